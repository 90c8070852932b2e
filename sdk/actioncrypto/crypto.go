// Package actioncrypto is the Node Action Hub's ActionCrypto (AESTransitCrypto), byte for
// byte: the envelope that protects OAuth state in URLs and the {cid,payload} token form.
//
// Format: "1" + 3-digit length of b64url(wrapped key) + 3-digit length of b64url(IV) +
// b64url(IV) + b64url(AES-256-CTR(master, IV, dataKey)) + b64url(AES-256-CTR(dataKey, IV,
// plaintext)), base64url without padding. It has no integrity check (as in Node): callers
// must treat output that does not parse as JSON as a failure, which DecryptJSON does.
package actioncrypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrNotConfigured is returned when no master key was set (CIPHER_MASTER).
var ErrNotConfigured = errors.New("CIPHER_MASTER environment variable not set")

// ErrInvalidKey is Node's "Invalid key length": the master key is not 32 bytes.
//
//lint:ignore ST1005 the Node hub's wording
var ErrInvalidKey = errors.New("Invalid key length")

// ErrMalformed is returned for ciphertexts that cannot be split or decoded.
var ErrMalformed = errors.New("malformed ciphertext")

// Crypto encrypts and decrypts with one master key. The zero value fails with ErrNotConfigured.
type Crypto struct {
	key []byte
	set bool
}

// New makes a Crypto from the CIPHER_MASTER text. Like Node's Buffer.from(hex), decoding
// stops at the first invalid pair; a key that is not 32 bytes fails at use, not here.
func New(cipherMaster string) *Crypto {
	return &Crypto{key: nodeHexDecode(cipherMaster), set: true}
}

// NewKey makes a Crypto from raw key bytes.
func NewKey(key []byte) *Crypto { return &Crypto{key: append([]byte(nil), key...), set: true} }

// GenerateKey returns a random CIPHER_MASTER value (64 hex characters).
func GenerateKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func nodeHexDecode(s string) []byte {
	out := make([]byte, 0, len(s)/2)
	for i := 0; i+1 < len(s); i += 2 {
		b, err := hex.DecodeString(s[i : i+2])
		if err != nil {
			break
		}
		out = append(out, b[0])
	}
	return out
}

func (c *Crypto) check() error {
	if c == nil || !c.set {
		return ErrNotConfigured
	}
	if len(c.key) != 32 {
		return ErrInvalidKey
	}
	return nil
}

// Configured reports whether a valid master key is set.
func (c *Crypto) Configured() bool { return c.check() == nil }

// CipherID is the lowercase hex SHA-256 of the master key bytes (Node's cipherId()).
func (c *Crypto) CipherID() string {
	if c == nil {
		return hex.EncodeToString(sha256.New().Sum(nil))
	}
	sum := sha256.Sum256(c.key)
	return hex.EncodeToString(sum[:])
}

// Encrypt encrypts plaintext with a random data key and IV.
func (c *Crypto) Encrypt(plaintext string) (string, error) {
	dataKey := make([]byte, 32)
	iv := make([]byte, 16)
	if _, err := rand.Read(dataKey); err != nil {
		return "", err
	}
	if _, err := rand.Read(iv); err != nil {
		return "", err
	}
	return c.EncryptWith(plaintext, dataKey, iv)
}

// EncryptWith encrypts with a given data key and IV (for test vectors).
func (c *Crypto) EncryptWith(plaintext string, dataKey, iv []byte) (string, error) {
	if err := c.check(); err != nil {
		return "", err
	}
	if len(dataKey) != 32 || len(iv) != 16 {
		return "", ErrInvalidKey
	}
	data := ctr(dataKey, iv, []byte(plaintext))
	wrapped := ctr(c.key, iv, dataKey)
	e := base64.RawURLEncoding
	encIV, encW, encC := e.EncodeToString(iv), e.EncodeToString(wrapped), e.EncodeToString(data)
	return fmt.Sprintf("1%03d%03d%s%s%s", len(encW), len(encIV), encIV, encW, encC), nil
}

func ctr(key, iv, in []byte) []byte {
	block, _ := aes.NewCipher(key) // key length checked by callers
	out := make([]byte, len(in))
	cipher.NewCTR(block, iv).XORKeyStream(out, in)
	return out
}

// Decrypt reverses Encrypt. The version character is ignored, as in Node. Without an
// integrity check a wrong key yields garbage, not an error; invalid UTF-8 becomes U+FFFD.
func (c *Crypto) Decrypt(ciphertext string) (string, error) {
	if err := c.check(); err != nil {
		return "", err
	}
	if len(ciphertext) < 7 {
		return "", ErrMalformed
	}
	wLen, err1 := strconv.Atoi(ciphertext[1:4])
	ivLen, err2 := strconv.Atoi(ciphertext[4:7])
	if err1 != nil || err2 != nil || wLen < 0 || ivLen < 0 || 7+ivLen+wLen > len(ciphertext) {
		return "", ErrMalformed
	}
	rest := ciphertext[7:]
	iv, err := b64(rest[:ivLen])
	if err != nil || len(iv) != 16 {
		return "", ErrMalformed
	}
	wrapped, err := b64(rest[ivLen : ivLen+wLen])
	if err != nil || len(wrapped) != 32 {
		return "", ErrMalformed
	}
	data, err := b64(rest[ivLen+wLen:])
	if err != nil {
		return "", ErrMalformed
	}
	dataKey := ctr(c.key, iv, wrapped)
	plain := ctr(dataKey, iv, data)
	if !utf8.Valid(plain) {
		return strings.ToValidUTF8(string(plain), "\uFFFD"), nil
	}
	return string(plain), nil
}

// b64 decodes base64url with or without padding, and also the standard alphabet
// (Node's decoder maps both).
func b64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	s = strings.NewReplacer("+", "-", "/", "_").Replace(s)
	return base64.RawURLEncoding.DecodeString(s)
}

// EncryptJSON encrypts the JSON encoding of v.
func (c *Crypto) EncryptJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return c.Encrypt(string(b))
}

// DecryptJSON decrypts ciphertext and decodes it as JSON into v. Garbage from a wrong key
// or a tampered text fails here.
func (c *Crypto) DecryptJSON(ciphertext string, v any) error {
	plain, err := c.Decrypt(ciphertext)
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(plain), v); err != nil {
		return ErrMalformed
	}
	return nil
}

// Payload is the encrypted token form stored in Looker state: {"cid":..., "payload":...}.
type Payload struct {
	CID     string `json:"cid"`
	Payload string `json:"payload"`
}

// Wrap encrypts the JSON of v into a Payload.
func (c *Crypto) Wrap(v any) (*Payload, error) {
	ct, err := c.EncryptJSON(v)
	if err != nil {
		return nil, err
	}
	return &Payload{CID: c.CipherID(), Payload: ct}, nil
}
