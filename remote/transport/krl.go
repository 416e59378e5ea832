package transport

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"

	"golang.org/x/crypto/ssh"
)

// OpenSSH's key revocation list (ssh-keygen -k), as PROTOCOL.krl and
// krl.c describe it: a header, then sections revoking plain keys (by
// blob, SHA-1 or SHA-256 of the blob) and certificates (by serial,
// serial range, serial bitmap or key ID, for one CA or for all). Every
// section is parsed; what cannot be (a signature section, which OpenSSH
// 9.4 and later refuse too, a critical extension, a truncated section)
// makes the whole list an error, so that a list that cannot be read
// refuses every key rather than none.

var krlMagic = []byte("SSHKRL\n\x00")

const (
	krlFormatVersion = 1

	krlSectionCertificates = 1
	krlSectionExplicitKey  = 2
	krlSectionSHA1         = 3
	krlSectionSignature    = 4
	krlSectionSHA256       = 5
	krlSectionExtension    = 255

	krlCertSerialList   = 0x20
	krlCertSerialRange  = 0x21
	krlCertSerialBitmap = 0x22
	krlCertKeyID        = 0x23
	krlCertExtension    = 0x39
)

// krl is a parsed key revocation list.
type krl struct {
	keys, sha1s, sha256s map[string]bool // plain key blobs and their hashes
	certs                []*krlCerts
}

// krlCerts revokes certificates of one CA (ca nil: of every CA).
type krlCerts struct {
	ca     []byte // the CA's key blob; nil for every CA
	ranges [][2]uint64
	bitmap []krlBitmap
	keyIDs map[string]bool
}

type krlBitmap struct {
	offset uint64
	bits   *big.Int
}

func isKRL(data []byte) bool { return bytes.HasPrefix(data, krlMagic) }

// parseKRL reads a KRL file's contents.
func parseKRL(data []byte) (*krl, error) {
	if !isKRL(data) {
		return nil, errors.New("not a KRL")
	}
	r := &krlReader{b: data[len(krlMagic):]}
	if v := r.uint32(); v != krlFormatVersion && r.err == nil {
		return nil, fmt.Errorf("KRL format version %d, want %d", v, krlFormatVersion)
	}
	r.uint64() // krl_version
	r.uint64() // generated_date
	r.uint64() // flags
	r.str()    // reserved
	r.str()    // comment
	k := &krl{keys: map[string]bool{}, sha1s: map[string]bool{}, sha256s: map[string]bool{}}
	for r.err == nil && len(r.b) > 0 {
		typ := r.byte()
		sec := &krlReader{b: r.str()}
		switch typ {
		case krlSectionCertificates:
			k.certs = append(k.certs, sec.certs())
		case krlSectionExplicitKey, krlSectionSHA1, krlSectionSHA256:
			dst := map[byte]map[string]bool{krlSectionExplicitKey: k.keys, krlSectionSHA1: k.sha1s, krlSectionSHA256: k.sha256s}[typ]
			for sec.err == nil && len(sec.b) > 0 {
				dst[string(sec.str())] = true
			}
		case krlSectionSignature:
			return nil, errors.New("KRL has a signature section, which OpenSSH no longer reads")
		case krlSectionExtension:
			sec.extension()
		default:
			return nil, fmt.Errorf("KRL section of unknown type %d", typ)
		}
		if r.err == nil {
			r.err = sec.err
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	return k, nil
}

// certs reads a certificate section.
func (r *krlReader) certs() *krlCerts {
	c := &krlCerts{keyIDs: map[string]bool{}}
	if ca := r.str(); len(ca) > 0 {
		c.ca = ca
	}
	r.str() // reserved
	for r.err == nil && len(r.b) > 0 {
		typ := r.byte()
		sub := &krlReader{b: r.str()}
		switch typ {
		case krlCertSerialList:
			for sub.err == nil && len(sub.b) > 0 {
				s := sub.uint64()
				c.ranges = append(c.ranges, [2]uint64{s, s})
			}
		case krlCertSerialRange:
			lo, hi := sub.uint64(), sub.uint64()
			c.ranges = append(c.ranges, [2]uint64{lo, hi})
		case krlCertSerialBitmap:
			off := sub.uint64()
			c.bitmap = append(c.bitmap, krlBitmap{offset: off, bits: new(big.Int).SetBytes(sub.str())})
		case krlCertKeyID:
			for sub.err == nil && len(sub.b) > 0 {
				c.keyIDs[string(sub.str())] = true
			}
		case krlCertExtension:
			sub.extension()
		default:
			sub.fail(fmt.Errorf("KRL certificate section of unknown type %#x", typ))
		}
		if r.err == nil {
			r.err = sub.err
		}
	}
	return c
}

// extension skips an optional extension and refuses a critical one.
func (r *krlReader) extension() {
	name := r.str()
	critical := r.byte()
	r.str()
	if critical != 0 {
		r.fail(fmt.Errorf("KRL has a critical extension %q that is not understood", name))
	}
}

// revokes reports whether the list revokes key, as ssh_krl_check_key
// does: the key itself, and for a certificate also its CA.
func (k *krl) revokes(key ssh.PublicKey) bool {
	if k.revokesKey(key) {
		return true
	}
	if cert, ok := key.(*ssh.Certificate); ok {
		return k.revokesKey(cert.SignatureKey)
	}
	return false
}

func (k *krl) revokesKey(key ssh.PublicKey) bool {
	cert, isCert := key.(*ssh.Certificate)
	plain := key
	if isCert {
		plain = cert.Key
	}
	blob := plain.Marshal()
	s1, s256 := sha1.Sum(blob), sha256.Sum256(blob)
	if k.keys[string(blob)] || k.sha1s[string(s1[:])] || k.sha256s[string(s256[:])] {
		return true
	}
	if !isCert {
		return false
	}
	ca := cert.SignatureKey.Marshal()
	for _, c := range k.certs {
		if c.ca == nil || bytes.Equal(c.ca, ca) {
			if c.revokesCert(cert) {
				return true
			}
		}
	}
	return false
}

func (c *krlCerts) revokesCert(cert *ssh.Certificate) bool {
	if c.keyIDs[cert.KeyId] {
		return true
	}
	s := cert.Serial
	if s == 0 {
		// OpenSSH ignores serial 0, the default when the CA set none.
		return false
	}
	for _, r := range c.ranges {
		if s >= r[0] && s <= r[1] {
			return true
		}
	}
	for _, b := range c.bitmap {
		if s >= b.offset && s-b.offset < uint64(b.bits.BitLen()) && b.bits.Bit(int(s-b.offset)) == 1 {
			return true
		}
	}
	return false
}

// krlReader reads SSH wire types; the first error sticks.
type krlReader struct {
	b   []byte
	err error
}

func (r *krlReader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.b = nil
}

func (r *krlReader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b) < n {
		r.fail(errors.New("KRL is truncated"))
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *krlReader) byte() byte {
	if b := r.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *krlReader) uint32() uint32 {
	if b := r.take(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (r *krlReader) uint64() uint64 {
	if b := r.take(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

func (r *krlReader) str() []byte {
	n := r.uint32()
	if r.err != nil || uint64(n) > uint64(len(r.b)) {
		r.fail(errors.New("KRL is truncated"))
		return nil
	}
	return r.take(int(n))
}
