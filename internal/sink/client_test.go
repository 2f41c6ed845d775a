package sink

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

func TestHTTPClientNeverFollowsRedirects(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("the redirect was followed")
	}))
	defer target.Close()
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusFound)
	}))
	defer redirect.Close()
	shared := &http.Client{}
	for _, in := range []*http.Client{nil, shared} {
		c, own := HTTPClient(in)
		if own != (in == nil) || c == in {
			t.Fatalf("HTTPClient(%v): got own %v and the same client %v, want a copy or an own client", in, own, c == in)
		}
		resp, err := c.Get(redirect.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("got %d, want the 302 itself", resp.StatusCode)
		}
	}
	if shared.CheckRedirect != nil {
		t.Fatal("the shared client was changed")
	}
}

func TestCheckURL(t *testing.T) {
	u, _ := url.Parse("http://127.0.0.1:8080/api")
	if err := (Deps{}).CheckURL(u, "x"); err != nil {
		t.Fatalf("no hook: got %v, want nil", err)
	}
	refuse := func(*url.URL) error { return errors.New("own API") }
	if err := (Deps{Egress: EgressFuncs{URL: refuse}}).CheckURL(u, "x"); !errors.Is(err, ErrForbiddenTarget) {
		t.Fatalf("refused: got %v, want ErrForbiddenTarget", err)
	}
}
