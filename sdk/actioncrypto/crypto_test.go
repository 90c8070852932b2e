package actioncrypto_test

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"

	"github.com/actionhub/actionhub/sdk/actioncrypto"
)

type vectorFile struct {
	Encrypt []struct {
		Name, CipherMaster, CipherID, Plaintext, DataKeyHex, IVHex, Ciphertext string
	} `json:"encrypt_vectors"`
	StateJSON []struct {
		Name, CipherMaster, DecryptedJSON, StateJSON string
	} `json:"state_json_vectors"`
	DecryptOnly []struct {
		Name, CipherMaster, Ciphertext, ExpectedPlaintext, ExpectedRawPlaintextHex string
	} `json:"decrypt_only_vectors"`
	CipherIDs []struct {
		CipherMaster, CipherID, Encrypt string
	} `json:"cipher_id_vectors"`
}

func load(t *testing.T) vectorFile {
	b, err := os.ReadFile("../../../shared/vectors/crypto.json")
	if err != nil {
		t.Fatalf("crypto vectors: %v", err)
	}
	// field names in the file are snake_case
	var raw map[string][]map[string]any
	var v vectorFile
	json.Unmarshal(b, &raw)
	get := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	for _, m := range raw["encrypt_vectors"] {
		v.Encrypt = append(v.Encrypt, struct{ Name, CipherMaster, CipherID, Plaintext, DataKeyHex, IVHex, Ciphertext string }{
			get(m, "name"), get(m, "cipher_master"), get(m, "cipher_id"), get(m, "plaintext"), get(m, "data_key_hex"), get(m, "iv_hex"), get(m, "ciphertext")})
	}
	for _, m := range raw["state_json_vectors"] {
		v.StateJSON = append(v.StateJSON, struct{ Name, CipherMaster, DecryptedJSON, StateJSON string }{
			get(m, "name"), get(m, "cipher_master"), get(m, "decrypted_json"), get(m, "state_json")})
	}
	for _, m := range raw["decrypt_only_vectors"] {
		v.DecryptOnly = append(v.DecryptOnly, struct{ Name, CipherMaster, Ciphertext, ExpectedPlaintext, ExpectedRawPlaintextHex string }{
			get(m, "name"), get(m, "cipher_master"), get(m, "ciphertext"), get(m, "expected_plaintext"), get(m, "expected_raw_plaintext_hex")})
	}
	for _, m := range raw["cipher_id_vectors"] {
		v.CipherIDs = append(v.CipherIDs, struct{ CipherMaster, CipherID, Encrypt string }{get(m, "cipher_master"), get(m, "cipher_id"), get(m, "encrypt")})
	}
	if len(v.Encrypt) != 18 || len(v.StateJSON) != 2 || len(v.DecryptOnly) != 2 || len(v.CipherIDs) != 7 {
		t.Fatalf("unexpected vector counts %d %d %d %d", len(v.Encrypt), len(v.StateJSON), len(v.DecryptOnly), len(v.CipherIDs))
	}
	return v
}

func TestEncryptVectors(t *testing.T) {
	for _, v := range load(t).Encrypt {
		c := actioncrypto.New(v.CipherMaster)
		got, err := c.Decrypt(v.Ciphertext)
		if err != nil || got != v.Plaintext {
			t.Errorf("%s: decrypt = %q, %v", v.Name, got, err)
		}
		if c.CipherID() != v.CipherID {
			t.Errorf("%s: cipher id %s", v.Name, c.CipherID())
		}
		dk, _ := hex.DecodeString(v.DataKeyHex)
		iv, _ := hex.DecodeString(v.IVHex)
		enc, err := c.EncryptWith(v.Plaintext, dk, iv)
		if err != nil || enc != v.Ciphertext {
			t.Errorf("%s: encrypt = %s, %v\nwant %s", v.Name, enc, err, v.Ciphertext)
		}
		rnd, _ := c.Encrypt(v.Plaintext)
		if back, _ := c.Decrypt(rnd); back != v.Plaintext {
			t.Errorf("%s: random round trip %q", v.Name, back)
		}
	}
}

func TestStateJSONVectors(t *testing.T) {
	for _, v := range load(t).StateJSON {
		var p actioncrypto.Payload
		if err := json.Unmarshal([]byte(v.StateJSON), &p); err != nil {
			t.Fatal(err)
		}
		c := actioncrypto.New(v.CipherMaster)
		got, err := c.Decrypt(p.Payload)
		if err != nil || got != v.DecryptedJSON || p.CID != c.CipherID() {
			t.Errorf("%s: %q %v", v.Name, got, err)
		}
	}
}

func TestDecryptOnlyVectors(t *testing.T) {
	for _, v := range load(t).DecryptOnly {
		c := actioncrypto.New(v.CipherMaster)
		got, err := c.Decrypt(v.Ciphertext)
		if err != nil {
			t.Errorf("%s: %v", v.Name, err)
		}
		if v.ExpectedPlaintext != "" && got != v.ExpectedPlaintext {
			t.Errorf("%s: %q", v.Name, got)
		}
		if v.ExpectedRawPlaintextHex != "" {
			var anyv any
			if c.DecryptJSON(v.Ciphertext, &anyv) == nil {
				t.Errorf("%s: garbage from a wrong key must not decode as JSON", v.Name)
			}
		}
	}
}

func TestCipherIDAndKeyErrors(t *testing.T) {
	for _, v := range load(t).CipherIDs {
		c := actioncrypto.New(v.CipherMaster)
		if c.CipherID() != v.CipherID {
			t.Errorf("%q: id %s want %s", v.CipherMaster, c.CipherID(), v.CipherID)
		}
		_, err := c.Encrypt("x")
		if (v.Encrypt == "ok") != (err == nil) {
			t.Errorf("%q: encrypt err %v, vector says %s", v.CipherMaster, err, v.Encrypt)
		}
	}
	var none *actioncrypto.Crypto
	if _, err := none.Encrypt("x"); err != actioncrypto.ErrNotConfigured {
		t.Errorf("nil crypto: %v", err)
	}
}

func FuzzDecrypt(f *testing.F) {
	f.Add("1043022Dw4NDAsKCQgHBgUEAwIBAAydDV1bnGUxGvWly-VQkwvXjsENwl9fHcfOP8a6gOpuccJj6hL3ac__dgPVegE3aLb8B76naXezgfvGtoe_I585e4fJcAva_uL9oMRNI61yqLoCk14h61k8wThABl_5sPZuh9EECKIw")
	f.Add("1999999")
	f.Add("")
	c := actioncrypto.New("281243e09385f19773569e4d99d306065efb0cf0f6e3ca4c705571c173722c99")
	f.Fuzz(func(t *testing.T, s string) {
		var v any
		_ = c.DecryptJSON(s, &v) // must not panic
	})
}
