// Package state keeps each cluster's last accepted report on disk, so that
// a routeragent that restarts announces at once, before any hostagent
// reports again. A file is written whole or not at all (write, fsync,
// rename, fsync of the directory); a broken one is reported and ignored.
package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vmroute/vmroute/routeragent/intake"
	"github.com/vmroute/vmroute/routeragent/plan"
	"github.com/vmroute/vmroute/shared/wire"
)

// Store is a directory of cluster states.
type Store struct {
	dir string
}

type file struct {
	Received time.Time    `json:"received"`
	Report   *wire.Report `json:"report"`
	// Gone are the cluster's tombstones (plan.Tombstones).
	Gone plan.Tombstones `json:"gone,omitempty"`
	// Ahead are the landings held clamped, as reported (intake.State).
	Ahead map[string]time.Time `json:"ahead,omitempty"`
}

// Open returns the store in dir, creating dir if need be, and removes the
// temporary files a write cut short (kill -9, power loss) left there.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	orphans, err := filepath.Glob(filepath.Join(dir, ".tmp-*"))
	if err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	for _, f := range orphans {
		if err := os.Remove(f); err != nil {
			return nil, fmt.Errorf("state directory: remove a write cut short: %w", err)
		}
	}
	return &Store{dir: dir}, nil
}

func (s *Store) path(cluster string) string {
	return filepath.Join(s.dir, url.PathEscape(cluster)+".json")
}

// Save writes a cluster's state atomically.
func (s *Store) Save(st *intake.State) error {
	b, err := json.Marshal(file{Received: st.Received, Report: st.Report(), Gone: st.Gone, Ahead: st.Ahead})
	if err != nil {
		return fmt.Errorf("encode state of %s: %w", st.Cluster, err)
	}
	if err := s.write(s.path(st.Cluster), b); err != nil {
		return fmt.Errorf("save state of %s: %w", st.Cluster, err)
	}
	return nil
}

// write replaces the file at path with b, atomically.
func (s *Store) write(path string, b []byte) error {
	tmp, err := os.CreateTemp(s.dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(s.dir)
}

// followName is the file of what the planner follows from plan to plan
// (plan.Follow); a cluster's state file ends in .json, so Load leaves it.
const followName = "planner.follow"

// SaveFollow saves what the planner follows, atomically.
func (s *Store) SaveFollow(f plan.Follow) error {
	b, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("encode what the planner follows: %w", err)
	}
	if err := s.write(filepath.Join(s.dir, followName), b); err != nil {
		return fmt.Errorf("save what the planner follows: %w", err)
	}
	return nil
}

// LoadFollow reads what the planner followed before a restart: nothing
// when it was never saved, and an error, with nothing, when the file is
// broken.
func (s *Store) LoadFollow() (plan.Follow, error) {
	path := filepath.Join(s.dir, followName)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return plan.Follow{}, nil
	}
	var f plan.Follow
	if err == nil {
		err = json.Unmarshal(b, &f)
	}
	if err != nil {
		return plan.Follow{}, fmt.Errorf("%s ignored: %w", path, err)
	}
	return f, nil
}

// DroppedSuffix ends the name of a state file set aside: Load reads it no
// more, and it is kept for the operator.
const DroppedSuffix = ".dropped"

// SetAside renames a cluster's state, if there is one, so that it is
// never restored again: the configuration dropped the cluster, and a
// cluster added back later must start from its reports, not from routes
// of long ago. It returns the new path, or "" when there was no state.
func (s *Store) SetAside(cluster string) (string, error) {
	path := s.path(cluster)
	to := path + DroppedSuffix
	if err := os.Rename(path, to); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", nil
		}
		return "", fmt.Errorf("set aside the state of %s: %w", cluster, err)
	}
	return to, syncDir(s.dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync state directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync state directory: %w", err)
	}
	return nil
}

// Load reads every state in the store. A file that cannot be read or
// fails validation is left out and reported in problems, never fatal.
func (s *Store) Load() (states []*intake.State, problems []error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, []error{fmt.Errorf("read state directory: %w", err)}
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		path := filepath.Join(s.dir, e.Name())
		st, err := load(path)
		if err != nil {
			problems = append(problems, fmt.Errorf("state file %s ignored: %w", path, err))
			continue
		}
		if want := s.path(st.Cluster); want != path {
			problems = append(problems, fmt.Errorf("state file %s ignored: it holds cluster %q, which belongs in %s", path, st.Cluster, want))
			continue
		}
		states = append(states, st)
	}
	return states, problems
}

// fileV1 is a state file written by a routeragent that spoke wire v1: the
// report named one site for the whole cluster, and each VM its host.
type fileV1 struct {
	Received time.Time `json:"received"`
	Report   *struct {
		Site       string    `json:"site"`
		Cluster    string    `json:"cluster"`
		Generation uint64    `json:"generation"`
		Kind       wire.Kind `json:"kind"`
		VMs        []struct {
			wire.VM
			Host string `json:"host"`
		} `json:"vms"`
	} `json:"report"`
}

func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func load(path string) (*intake.State, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f file
	if err := decodeStrict(b, &f); err != nil {
		var old fileV1
		if decodeStrict(b, &old) != nil || old.Report == nil || old.Report.Site == "" {
			// Written by a newer routeragent (a downgrade): what it
			// added is optional, as on the wire (package wire).
			f = file{}
			if json.Unmarshal(b, &f) != nil {
				return nil, fmt.Errorf("broken: %w", err)
			}
			return restore(f)
		}
		// Written before wire v2: every VM was at the cluster's site.
		r := old.Report
		f = file{Received: old.Received, Report: &wire.Report{Cluster: r.Cluster, Generation: r.Generation, Kind: r.Kind, VMs: []wire.VM{}}}
		for _, vm := range r.VMs {
			vm.VM.Site = r.Site
			f.Report.VMs = append(f.Report.VMs, vm.VM)
		}
	}
	return restore(f)
}

// restore makes a cluster's state of a file read.
func restore(f file) (*intake.State, error) {
	if f.Report == nil {
		return nil, errors.New("broken: no report")
	}
	if err := f.Report.Validate(); err != nil {
		return nil, err
	}
	if f.Report.Kind != wire.KindFull {
		return nil, errors.New("broken: not a full report")
	}
	st := &intake.State{Cluster: f.Report.Cluster, Generation: f.Report.Generation,
		Received: f.Received, VMs: make(map[string]wire.VM, len(f.Report.VMs)), Gone: f.Gone, Ahead: f.Ahead}
	if st.Gone == nil {
		st.Gone = plan.Tombstones{}
	}
	for _, vm := range f.Report.VMs {
		st.VMs[vm.UUID] = vm
	}
	return st, nil
}
