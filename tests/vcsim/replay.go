package vcsim

import (
	"bytes"
	"crypto/tls"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"sync"
	"time"
)

// Replay serves a vCenter's SOAP API in front of a simulated one: every
// WaitForUpdatesEx is answered from answers given to it (Big's, whose
// bytes no simulator could produce at that size in time), every other
// call goes to the simulator. Each new property collector, as a hostagent
// creates one per session, is first served the full sync (SetSync); Push
// gives the latest collector more answers. A wait with nothing to serve
// ends after its maxWait with no change, as vCenter's does.
type Replay struct {
	// URL is where the replay serves (https, its own certificate:
	// CertificatePEM).
	URL *url.URL
	srv *httptest.Server

	mu      sync.Mutex
	sync    [][]byte
	feeds   map[string]*feed // by collector
	latest  *feed
	batches []Batch
	expire  bool
	more    chan struct{} // closed and replaced when answers are pushed
}

type feed struct {
	pending [][]byte
	batch   int // index in batches of the batch being served, -1 when none
}

// Batch is one run of answers a collector was served: the bytes, when the
// first byte went out, and when the collector asked for more after the
// last answer (it had applied them all).
type Batch struct {
	Bytes       int64
	Start, Done time.Time
}

var thisRE = regexp.MustCompile(`<_this type="PropertyCollector">([^<]*)</_this>`)

// NewReplay serves in front of the simulator at sim (its SDK URL).
func NewReplay(sim *url.URL) *Replay {
	r := &Replay{feeds: map[string]*feed{}, more: make(chan struct{})}
	r.srv, r.URL = front(sim, func(w http.ResponseWriter, req *http.Request, body []byte) bool {
		if bytes.Contains(body, []byte("<WaitForUpdatesEx")) {
			r.wait(w, req, body)
			return true
		}
		return false
	}, nil)
	return r
}

// front serves in front of the simulator at sim, over TLS: intercept sees
// each request with its body and answers it itself by returning true;
// the others go to the simulator, their answers through modify, when not
// nil. It returns the server and its SDK URL.
func front(sim *url.URL, intercept func(http.ResponseWriter, *http.Request, []byte) bool, modify func(*http.Response) error) (*httptest.Server, *url.URL) {
	target := *sim
	target.Path, target.User = "", nil
	proxy := httputil.NewSingleHostReverseProxy(&target)
	proxy.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // the test's own simulator
	proxy.ErrorHandler = proxyError
	proxy.ModifyResponse = modify
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if intercept(w, req, body) {
			return
		}
		req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		proxy.ServeHTTP(w, req)
	}))
	u, _ := url.Parse(srv.URL + sim.Path)
	return srv, u
}

// CertificatePEM returns the replay's certificate, PEM-encoded, for a
// client's CA file.
func (r *Replay) CertificatePEM() []byte { return certPEM(r.srv) }

// certPEM returns a test server's certificate, PEM-encoded.
func certPEM(s *httptest.Server) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
}

// Close stops serving.
func (r *Replay) Close() { r.srv.Close() }

// SetSync sets the answers of the full sync that each new collector is
// served first.
func (r *Replay) SetSync(pages [][]byte) {
	r.mu.Lock()
	r.sync = pages
	r.mu.Unlock()
}

// Push gives the latest collector more answers: changes, served at once
// to the wait in progress.
func (r *Replay) Push(pages [][]byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.latest
	if f == nil {
		return
	}
	f.pending = append(f.pending, pages...)
	r.open(f)
	close(r.more)
	r.more = make(chan struct{})
}

// Expire answers the next wait with NotAuthenticated, as vCenter does
// when a session expired: the client logs in again and syncs again.
func (r *Replay) Expire() {
	r.mu.Lock()
	r.expire = true
	close(r.more)
	r.more = make(chan struct{})
	r.mu.Unlock()
}

// Batches returns the batches served so far, in order.
func (r *Replay) Batches() []Batch {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Batch(nil), r.batches...)
}

// open starts a batch for f's pending answers, unless one is open.
func (r *Replay) open(f *feed) {
	if f.batch < 0 && len(f.pending) > 0 {
		r.batches = append(r.batches, Batch{})
		f.batch = len(r.batches) - 1
	}
}

// emptyAnswer is a wait that ended with no change.
const emptyAnswer = `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><WaitForUpdatesExResponse xmlns="urn:vim25"></WaitForUpdatesExResponse></soapenv:Body></soapenv:Envelope>`

// notAuthenticated is vCenter's fault for a session that expired.
const notAuthenticated = `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>The session is not authenticated.</faultstring><detail><NotAuthenticatedFault xmlns="urn:vim25" xsi:type="NotAuthenticated"><object type="PropertyCollector">session</object><privilegeId>System.View</privilegeId></NotAuthenticatedFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>`

var maxWaitRE = regexp.MustCompile(`<maxWaitSeconds>(\d+)</maxWaitSeconds>`)

func (r *Replay) wait(w http.ResponseWriter, req *http.Request, body []byte) {
	collector := ""
	if m := thisRE.FindSubmatch(body); m != nil {
		collector = string(m[1])
	}
	limit := time.Minute
	if m := maxWaitRE.FindSubmatch(body); m != nil {
		if d, err := time.ParseDuration(string(m[1]) + "s"); err == nil {
			limit = d
		}
	}
	deadline := time.After(limit)
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	for {
		r.mu.Lock()
		if r.expire {
			r.expire = false
			r.mu.Unlock()
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, notAuthenticated)
			return
		}
		f := r.feeds[collector]
		if f == nil {
			f = &feed{pending: r.sync, batch: -1}
			r.feeds[collector] = f
			r.latest = f
			r.open(f)
		}
		if len(f.pending) == 0 && f.batch >= 0 {
			r.batches[f.batch].Done = time.Now()
			f.batch = -1
		}
		if len(f.pending) > 0 {
			page := f.pending[0]
			f.pending = f.pending[1:]
			b := &r.batches[f.batch]
			if b.Start.IsZero() {
				b.Start = time.Now()
			}
			b.Bytes += int64(len(page))
			r.mu.Unlock()
			_, _ = w.Write(page)
			return
		}
		more := r.more
		r.mu.Unlock()
		select {
		case <-more:
		case <-deadline:
			_, _ = io.WriteString(w, emptyAnswer)
			return
		case <-req.Context().Done():
			return
		}
	}
}

// proxyError answers a call the simulator did not: 502, unless the client
// gave up on it (a wait cancelled as a hostagent stops).
func proxyError(w http.ResponseWriter, req *http.Request, err error) {
	if req.Context().Err() == nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
	}
}
