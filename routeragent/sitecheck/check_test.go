package sitecheck

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vmroute/vmroute/routeragent/liveness"
)

// Catches an answer believed from any certificate of the CA: a
// routeragent that is not one of site B's, answering as site B, must not
// make this site think B alive, nor that B announces anything.
func TestAnAnswerCountsOnlyFromTheSitesOwnCertificates(t *testing.T) {
	api := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(liveness.Answer{Site: "B", Current: true})
	}))
	defer api.Close()
	c := &Checker{Interval: time.Second, Client: api.Client()}
	ask := func(peers ...string) error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := c.ask(ctx, liveness.Site{Name: "B", Peers: peers}, liveness.Router{API: api.URL})
		return err
	}
	// httptest's certificate names example.com.
	if err := ask("router-b1", "router-b2"); err == nil || !strings.Contains(err.Error(), "none of site B's routeragents") {
		t.Errorf("a certificate that is none of B's routeragents': %v, want refused", err)
	}
	if err := ask("router-b1", "example.com"); err != nil {
		t.Errorf("B's own certificate: %v", err)
	}
}
