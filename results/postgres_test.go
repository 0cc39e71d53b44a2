package results

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/dogrun/dogrun/internal/pgtest"
)

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://ann:s3cret@db.lab:5432/dogrun?sslmode=require": "postgres://ann@db.lab:5432/dogrun?sslmode=require",
		"postgresql://db.lab/dogrun?password=s3cret&user=ann":      "postgresql://db.lab/dogrun?user=ann",
		"postgres://ann@db.lab/dogrun":                             "postgres://ann@db.lab/dogrun",
		"runs/dogrun.db":                                           "runs/dogrun.db",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// withPassword is url with a password, which the test server (trust
// authentication) accepts and ignores.
func withPassword(url string) string {
	return strings.Replace(url, "postgres@", "postgres:s3cret@", 1)
}

// An empty PostgreSQL database is, to a reading command, no results
// database: the error names it without the password, and nothing is created.
func TestPostgresOpenReadOnlyOfEmptyDatabase(t *testing.T) {
	url := withPassword(pgtest.Database(t))
	_, err := OpenReadOnly(url)
	if !errors.Is(err, ErrNoDatabase) || !strings.Contains(err.Error(), Redact(url)) || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("got %v, want ErrNoDatabase naming %s", err, Redact(url))
	}
	if _, _, err := Upgrade(url); !errors.Is(err, ErrNoDatabase) {
		t.Errorf("Upgrade: got %v, want ErrNoDatabase", err)
	}
	s, err := connectPostgres(url, true)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var tables int
	if err := s.db.QueryRowContext(context.Background(),
		`SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()`).Scan(&tables); err != nil || tables != 0 {
		t.Errorf("opening for reading left %d tables (%v)", tables, err)
	}
}

// A database of an older dogrun (here: before the attempts log) is refused
// for reading and left as it was; Upgrade brings it up to date with its rows
// kept, and it takes new work.
func TestPostgresUpgradeOfAnOlderDatabase(t *testing.T) {
	url := pgtest.Database(t)
	base, err := embeddedMigrations()
	if err != nil {
		t.Fatal(err)
	}
	old, err := openWith(url, base[:4])
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := ts(time.Now())
	if _, err := old.db.ExecContext(ctx, `INSERT INTO experiments (name, created_at, updated_at) VALUES ('exp', ?, ?)`, now, now); err != nil {
		t.Fatal(err)
	}
	if _, err := old.db.ExecContext(ctx, `INSERT INTO trials (experiment_id, hash, trial_index, seed)
		SELECT id, 'h0', 0, 1 FROM experiments`); err != nil {
		t.Fatal(err)
	}
	old.Close()

	_, err = OpenReadOnly(url)
	if !errors.Is(err, ErrSchemaOld) || !strings.Contains(err.Error(), "schema version 4,") {
		t.Fatalf("got %v, want ErrSchemaOld at version 4", err)
	}
	from, to, err := Upgrade(url)
	if err != nil || from != 4 || to != len(base) {
		t.Fatalf("Upgrade = %d, %d, %v; want 4, %d", from, to, err, len(base))
	}
	s, err := OpenReadOnly(url)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	e, err := s.Experiment(ctx, "exp")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := s.Claim(ctx, e.ID, "w", time.Minute, 2)
	if err != nil || tr == nil || tr.Hash != "h0" {
		t.Errorf("claim after the upgrade: %+v %v", tr, err)
	}
}

// A server that does not answer is named, without the password.
func TestPostgresUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	url := "postgres://ann:s3cret@" + addr + "/dogrun?connect_timeout=5"
	for name, open := range map[string]func(string) (*Store, error){"Open": Open, "OpenReadOnly": OpenReadOnly} {
		_, err := open(url)
		if err == nil || !strings.Contains(err.Error(), "cannot reach the database at postgres://ann@"+addr) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
