package contracts

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestFromDiscoverErrors: the token is sent; GraphQL errors, HTTP errors,
// answers that are not JSON and answers over the bound are clear errors.
func TestFromDiscoverErrors(t *testing.T) {
	answer := `{"data":{"services":[{"name":"a","descriptorSet":null,"pods":[{"name":"a-0","namespace":"prod"}],"components":[{"name":"c","processors":[],"sources":[{"topic":{"name":"t","message":"x.Y","type":"PROTOBUF","settings":{"partitions":3}}}],"sinks":[],"views":[],"viewSources":[],"viewSinks":[]}]}]}}`
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/query" || r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(answer))
	}))
	defer srv.Close()
	ctx := context.Background()
	cs, err := FromDiscover(ctx, srv.URL+"/", WithToken("tok"))
	if err != nil || len(cs) != 1 {
		t.Fatalf("%v %v", cs, err)
	}
	u := cs[0].Topics["t"]
	if cs[0].Name != "service a (pods prod/a-0)" || u == nil || !u.Writes || u.Reads || u.Partitions != 3 || cs[0].Descriptors != nil {
		t.Errorf("contract %+v topic %+v", cs[0], u)
	}
	for name, tc := range map[string]struct {
		answer string
		status int
		opts   []DiscoverOption
		want   string
	}{
		"no token":      {answer, 200, nil, "401 Unauthorized"},
		"graphql error": {`{"errors":[{"message":"Cannot query field \"descriptorSet\""}]}`, 200, []DiscoverOption{WithToken("tok")}, `discover: Cannot query field "descriptorSet"`},
		"not json":      {`<html>`, 200, []DiscoverOption{WithToken("tok")}, "not GraphQL JSON"},
		"too large":     {answer, 200, []DiscoverOption{WithToken("tok"), WithMaxResponse(10)}, "larger than 10 bytes"},
		"bad set":       {strings.Replace(answer, `"descriptorSet":null`, `"descriptorSet":"AAAA"`, 1), 200, []DiscoverOption{WithToken("tok")}, "service a:"},
	} {
		answer, status = tc.answer, tc.status
		if _, err := FromDiscover(ctx, srv.URL, tc.opts...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
	if _, err := FromDiscover(ctx, "discover:8080"); err == nil || !strings.Contains(err.Error(), "want http://host:port") {
		t.Errorf("bad address: %v", err)
	}
}
