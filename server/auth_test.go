package server

import "testing"

func FuzzCheckAuthorization(f *testing.F) {
	key := APIKey("mysecret", "nonce")
	for _, s := range []string{AuthorizationHeader(key), `Token token="a/b"`, `Token token=""`, `token token="/"`,
		`Token token="` + key + `/extra"`, "", `Token token="` + key} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		ok := checkAuthorization("mysecret", h)
		if ok && h != AuthorizationHeader(key) && h != `token token="`+key+`"` {
			// any other accepted header must carry a valid key for its own nonce
			nonce := h[len(`Token token="`):]
			for i := range nonce {
				if nonce[i] == '/' {
					nonce = nonce[:i]
					break
				}
			}
			if h != AuthorizationHeader(APIKey("mysecret", nonce)) && h != `token token="`+APIKey("mysecret", nonce)+`"` {
				t.Fatalf("accepted %q", h)
			}
		}
	})
}

func TestCheckAuthorizationRejectsWithoutSecret(t *testing.T) {
	if checkAuthorization("", AuthorizationHeader(APIKey("", "n"))) {
		t.Fatal("an empty secret must reject every key")
	}
}
