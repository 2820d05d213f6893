package vcsim

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"

	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vim25/xml"
)

// Rewrite serves a simulated vCenter's SOAP API with the answers changed
// where a real vCenter answers otherwise and vcsim cannot:
//   - a role that hides objects (Hide): the VMs of a folder the user has
//     no permission on, port groups, hosts. vcsim has no permissions on
//     objects. Hidden objects are left out of every WaitForUpdatesEx and
//     RetrieveProperties(Ex) answer, as vCenter leaves out what the user
//     may not see;
//   - changes to a part of a property (Nest), such as a disk's backing
//     after a snapshot (config.hardware.device[2000].backing) or one DRS
//     group (configurationEx.group["hosts-a"]): vcsim sends the whole
//     property instead, and drops a nested name.
type Rewrite struct {
	// URL is where the rewrite serves (https, its own certificate:
	// CertificatePEM).
	URL *url.URL
	srv *httptest.Server

	mu     sync.Mutex
	hidden map[types.ManagedObjectReference]bool
	nests  []nest
}

type nest struct {
	obj       types.ManagedObjectReference
	prop, as  string
	val       types.AnyType
	delivered bool
}

const methodHeader = "Vmroute-Test-Method"

// NewRewrite serves in front of the simulator at sim (its SDK URL).
func NewRewrite(sim *url.URL) *Rewrite {
	r := &Rewrite{hidden: map[types.ManagedObjectReference]bool{}}
	r.srv, r.URL = front(sim, func(_ http.ResponseWriter, req *http.Request, body []byte) bool {
		for _, m := range []string{"WaitForUpdatesEx", "RetrievePropertiesEx", "RetrieveProperties"} {
			if bytes.Contains(body, []byte("<"+m+">")) || bytes.Contains(body, []byte("<"+m+" ")) {
				req.Header.Set(methodHeader, m)
				break
			}
		}
		return false
	}, r.rewrite)
	return r
}

// CertificatePEM returns the rewrite's certificate, PEM-encoded.
func (r *Rewrite) CertificatePEM() []byte { return certPEM(r.srv) }

// Close stops serving.
func (r *Rewrite) Close() { r.srv.Close() }

// Hide leaves objs out of every answer from now on, as vCenter does for
// objects the user's role may not see.
func (r *Rewrite) Hide(objs ...types.ManagedObjectReference) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, o := range objs {
		r.hidden[o] = true
	}
}

// Nest sends the next change of obj's property prop in a WaitForUpdatesEx
// answer as a change to a part of it, named as (with its own op and
// value val), as vCenter names it and vcsim does not.
func (r *Rewrite) Nest(obj types.ManagedObjectReference, prop, as string, val types.AnyType) {
	r.mu.Lock()
	r.nests = append(r.nests, nest{obj: obj, prop: prop, as: as, val: val})
	r.mu.Unlock()
}

// Nested says whether every change Nest was given went out.
func (r *Rewrite) Nested() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.nests {
		if !n.delivered {
			return false
		}
	}
	return true
}

func (r *Rewrite) rewrite(res *http.Response) error {
	method := res.Request.Header.Get(methodHeader)
	if method == "" || res.StatusCode != http.StatusOK {
		return nil
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return err
	}
	out, err := r.rewriteBody(method, body)
	if err != nil {
		return fmt.Errorf("rewrite %s: %w", method, err)
	}
	res.Body = io.NopCloser(bytes.NewReader(out))
	res.ContentLength = int64(len(out))
	res.Header.Set("Content-Length", strconv.Itoa(len(out)))
	return nil
}

func (r *Rewrite) rewriteBody(method string, body []byte) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch method {
	case "WaitForUpdatesEx":
		set, err := Decode(body)
		if err != nil || set == nil {
			return body, err
		}
		for i := range set.FilterSet {
			fs := &set.FilterSet[i]
			var kept []types.ObjectUpdate
			for _, u := range fs.ObjectSet {
				if r.hidden[u.Obj] {
					continue
				}
				kept = append(kept, r.nested(u))
			}
			fs.ObjectSet = kept
		}
		return encode(set)
	case "RetrievePropertiesEx":
		var b methods.RetrievePropertiesExBody
		if err := decodeBody(body, &b); err != nil || b.Res == nil || b.Res.Returnval == nil {
			return body, err
		}
		b.Res.Returnval.Objects = r.visible(b.Res.Returnval.Objects)
		return encodeAny(b.Res)
	default:
		var b methods.RetrievePropertiesBody
		if err := decodeBody(body, &b); err != nil || b.Res == nil {
			return body, err
		}
		b.Res.Returnval = r.visible(b.Res.Returnval)
		return encodeAny(b.Res)
	}
}

func (r *Rewrite) visible(objs []types.ObjectContent) []types.ObjectContent {
	var out []types.ObjectContent
	for _, o := range objs {
		if !r.hidden[o.Obj] {
			out = append(out, o)
		}
	}
	return out
}

// nested renames u's first change that a Nest waits for.
func (r *Rewrite) nested(u types.ObjectUpdate) types.ObjectUpdate {
	for i := range r.nests {
		n := &r.nests[i]
		if n.delivered || n.obj != u.Obj || u.Kind != types.ObjectUpdateKindModify {
			continue
		}
		for j, c := range u.ChangeSet {
			if c.Name == n.prop {
				u.ChangeSet = append([]types.PropertyChange(nil), u.ChangeSet...)
				u.ChangeSet[j] = types.PropertyChange{Name: n.as, Op: types.PropertyChangeOpAssign, Val: n.val}
				n.delivered = true
				break
			}
		}
	}
	return u
}

// decodeBody decodes a SOAP answer into body, as govmomi's client does.
func decodeBody(answer []byte, body any) error {
	dec := xml.NewDecoder(bytes.NewReader(answer))
	dec.TypeFunc = types.TypeFunc()
	return dec.Decode(&soap.Envelope{Body: body})
}
