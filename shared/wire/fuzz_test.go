package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// FuzzDecode feeds arbitrary bodies to the report decoder: it must never
// panic, every refusal must wrap ErrInvalid, and every accepted report
// must encode and decode to the same report.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(goodReport))
	f.Add([]byte(`{"cluster":"c","generation":2,"kind":"delta","base":1,"vms":[],"removed":["a"]}`))
	f.Add([]byte(`{"cluster":"c"`))
	f.Add([]byte(`{"cluster":"c","Cluster":"d","generation":1,"kind":"full","vms":[{"uuid":"a\\u0041","uuid":"b"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := Decode(bytes.NewReader(body))
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		again, err := Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("accepted report does not survive encoding: %v\n%s", err, b)
		}
		b2, _ := json.Marshal(again)
		if !bytes.Equal(b, b2) {
			t.Fatalf("round trip changed the report:\n%s\n%s", b, b2)
		}
	})
}
