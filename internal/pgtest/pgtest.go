// Package pgtest runs a throwaway PostgreSQL server for a package's tests:
// started on first use by initdb in a temporary folder, on a free port of
// 127.0.0.1, and stopped by Main when the tests end. Each test gets an
// empty database of its own.
//
// The server runs as the postgres user when the tests run as root (initdb
// refuses root), as the current user otherwise. It dies with the test
// process (package daemon), so a crashed or timed-out test leaves no
// server behind.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/dogrun/dogrun/internal/daemon"
	"github.com/dogrun/dogrun/internal/needs"
	"github.com/jackc/pgx/v5"
)

// Server is a running PostgreSQL cluster.
type Server struct {
	dir  string
	port int
	cmd  *exec.Cmd
	exit chan error // the server process's end

	mu    sync.Mutex
	admin *pgx.Conn // to the postgres database, for CREATE DATABASE
}

var (
	once    sync.Once
	server  *Server
	missing error // the binaries are not installed
	failed  error // they are, but the server did not start
	dbCount atomic.Int64
)

// Main runs the tests and then stops the server, if a test started it.
// A package whose tests use Database calls it from TestMain.
func Main(m *testing.M) int {
	code := m.Run()
	StopShared()
	return code
}

// StopShared stops the server, if a test started it: for a TestMain that
// does more than Main.
func StopShared() {
	if server != nil {
		if err := server.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
		}
	}
}

// Database returns the URL of a new, empty database on the package's
// server, dropped when t ends. Without PostgreSQL installed it skips t
// (fails it under CI=true); a server that is installed but does not start
// fails t.
func Database(t testing.TB) string {
	t.Helper()
	s := Shared(t)
	name := fmt.Sprintf("dogrun_test_%d_%d", os.Getpid(), dbCount.Add(1))
	if err := s.exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := s.exec("DROP DATABASE " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return s.URL(name)
}

// Shared is the package's server, started on first use.
func Shared(t testing.TB) *Server {
	t.Helper()
	once.Do(func() {
		bin, err := binDir()
		if err != nil {
			missing = err
			return
		}
		server, failed = Start(bin)
	})
	needs.Met(t, missing)
	if failed != nil {
		t.Fatalf("pgtest: %v", failed)
	}
	return server
}

// URL is the address of database db on the server.
func (s *Server) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

func (s *Server) exec(sql string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := s.admin.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	return nil
}

// binDir finds initdb and postgres: on PATH, else in Debian's
// /usr/lib/postgresql/<version>/bin (the newest version).
func binDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("PostgreSQL is not installed (no initdb on PATH or in /usr/lib/postgresql/*/bin; Debian's postgresql package has it)")
}

func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// Start initialises a cluster in a new temporary folder and starts it.
func Start(bin string) (*Server, error) {
	cred, owner, err := runAs()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "dogrun-pg-")
	if err != nil {
		return nil, err
	}
	if owner >= 0 {
		if err := os.Chown(dir, owner, -1); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	s := &Server{dir: dir}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", filepath.Join(dir, "data"),
		"-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	// A port that was free a moment ago can be taken in between: try a few.
	for range 3 {
		if err = s.start(bin, cred); err == nil {
			return s, nil
		}
	}
	os.RemoveAll(dir)
	return nil, err
}

// runAs is the credential the server runs with: the postgres user's when
// this process is root (owner is then its uid, else -1).
func runAs() (cred *syscall.Credential, owner int, err error) {
	if os.Geteuid() != 0 {
		return nil, -1, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, -1, fmt.Errorf("running as root, the server needs the postgres user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, uid, nil
}

func (s *Server) start(bin string, cred *syscall.Credential) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	logPath := filepath.Join(s.dir, "log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close() // the server keeps its own descriptor
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", filepath.Join(s.dir, "data"),
		"-p", strconv.Itoa(port), "-k", s.dir, "-c", "listen_addresses=127.0.0.1",
		"-c", "max_connections=200")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if err := daemon.Start(cmd); err != nil {
		return err
	}
	exit := make(chan error, 1)
	go func() { exit <- cmd.Wait() }()
	s.port, s.cmd, s.exit = port, cmd, exit

	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, s.URL("postgres"))
		cancel()
		if err == nil {
			s.admin = conn
			return nil
		}
		select {
		case werr := <-exit:
			log, _ := os.ReadFile(logPath)
			return fmt.Errorf("postgres exited (%v) before accepting connections:\n%s", werr, tail(string(log)))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("postgres accepted no connection in 30s: %v", err)
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) kill() {
	s.cmd.Process.Kill()
	<-s.exit
}

// Stop shuts the server down (fast shutdown: sessions are ended) and
// removes its folder.
func (s *Server) Stop() error {
	if s.admin != nil {
		s.admin.Close(context.Background())
	}
	s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.exit:
	case <-time.After(30 * time.Second):
		s.kill()
	}
	return os.RemoveAll(s.dir)
}

func tail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}
