// The Go reference for `make bench-ingress`: a straightforward webhook receiver.
//
// net/http + crypto/rsa + franz-go: verify the RSA PKCS#1 v1.5 SHA-256 signature
// over "<timestamp>.<body>" (same ±tolerance replay window as the ingress), find
// body.data.callId, write the raw body keyed by it (acks=all, idempotent) and
// answer 202 only after the broker's acknowledgement.
//
//	goref -addr 127.0.0.1:18082 -brokers 127.0.0.1:9092 -topic T -pubkey key.pem
package main

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

type envelope struct {
	Body struct {
		Data struct {
			CallID string `json:"callId"`
		} `json:"data"`
	} `json:"body"`
}

type server struct {
	client    *kgo.Client
	topic     string
	key       *rsa.PublicKey
	tolerance float64
}

func problem(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	body, _ := json.Marshal(map[string]string{"error": code, "message": message})
	w.Write(body)
}

func (s *server) verify(r *http.Request, body []byte) (string, bool) {
	ts := r.Header.Get("X-Recho-Timestamp")
	sig := r.Header.Get("X-Recho-Signature")
	if ts == "" || sig == "" {
		return "missing_signature", false
	}
	seconds, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || ts[0] == '0' {
		return "invalid_timestamp", false
	}
	if math.Abs(float64(time.Now().UnixMilli())/1000-float64(seconds)) > s.tolerance {
		return "stale_timestamp", false
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(sig)
	if err != nil {
		return "malformed_signature", false
	}
	h := sha256.New()
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	if rsa.VerifyPKCS1v15(s.key, crypto.SHA256, h.Sum(nil), raw) != nil {
		return "bad_signature", false
	}
	return "", true
}

func (s *server) webhook(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		problem(w, http.StatusMethodNotAllowed, "method_not_allowed", "use POST")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		problem(w, http.StatusRequestEntityTooLarge, "body_too_large", err.Error())
		return
	}
	if reason, ok := s.verify(r, body); !ok {
		problem(w, http.StatusUnauthorized, reason, "signature check failed")
		return
	}
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil || env.Body.Data.CallID == "" {
		problem(w, http.StatusBadRequest, "invalid_body", "no body.data.callId")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	record := &kgo.Record{Topic: s.topic, Key: []byte(env.Body.Data.CallID), Value: body}
	produced, err := s.client.ProduceSync(ctx, record).First()
	if err != nil {
		problem(w, http.StatusServiceUnavailable, "kafka_unavailable", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprintf(w, `{"topic":%q,"partition":%d,"offset":%d}`,
		produced.Topic, produced.Partition, produced.Offset)
}

func loadKey(path string) *rsa.PublicKey {
	data, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		log.Fatalf("%s: no PEM block", path)
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		log.Fatal(err)
	}
	rsaKey, ok := key.(*rsa.PublicKey)
	if !ok {
		log.Fatalf("%s: not an RSA key", path)
	}
	return rsaKey
}

func main() {
	addr := flag.String("addr", "127.0.0.1:18082", "listen address")
	brokers := flag.String("brokers", "127.0.0.1:9092", "bootstrap server")
	topic := flag.String("topic", "", "topic to write to")
	pubkey := flag.String("pubkey", "", "RSA public key (PEM)")
	path := flag.String("path", "/webhooks/recho", "webhook route")
	tolerance := flag.Float64("tolerance", 300, "replay window, seconds")
	flag.Parse()

	client, err := kgo.NewClient(
		kgo.SeedBrokers(*brokers),
		kgo.RequiredAcks(kgo.AllISRAcks()), // idempotent by default with acks=all
		kgo.ProducerLinger(2*time.Millisecond),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	s := &server{client: client, topic: *topic, key: loadKey(*pubkey), tolerance: *tolerance}
	mux := http.NewServeMux()
	mux.HandleFunc(*path, s.webhook)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte(`{"status":"alive"}`))
	})
	log.Fatal(http.ListenAndServe(*addr, mux))
}
