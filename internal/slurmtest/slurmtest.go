// Package slurmtest runs a one-node Slurm cluster for a package's tests:
// munged, slurmctld and slurmd started on first use with their keys,
// configuration, state and logs in a temporary folder (nothing in /etc),
// and stopped by Main when the tests end. Clients find it through the
// SLURM_CONF in Env.
//
// Slurm's daemons must run as root, so the cluster does too; they die with
// the test process (package daemon).
package slurmtest

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dogrun/dogrun/internal/daemon"
	"github.com/dogrun/dogrun/internal/needs"
)

// CPUs is how many CPUs the node offers, whatever the machine has, so
// that tests can run several one-CPU jobs at once on a small machine.
const CPUs = 4

// Cluster is a running one-node Slurm cluster.
type Cluster struct {
	dir     string
	Env     []string // SLURM_CONF=..., for sbatch, squeue and scontrol
	daemons []*exec.Cmd
}

var (
	once    sync.Once
	cluster *Cluster
	missing error
	failed  error
)

// Main runs the tests and then stops the cluster, if a test started it.
func Main(m *testing.M) int {
	code := m.Run()
	StopShared()
	return code
}

// StopShared stops the cluster, if a test started it: for a TestMain that
// does more than Main.
func StopShared() {
	if cluster != nil {
		if err := cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "slurmtest:", err)
		}
	}
}

// Shared is the package's cluster, started on first use. Without Slurm
// and munge installed, or without root, it skips t (fails it under
// CI=true); a cluster that does not start fails t.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	once.Do(func() {
		if missing = installed(); missing == nil {
			cluster, failed = Start()
		}
	})
	needs.Met(t, missing)
	if failed != nil {
		t.Fatalf("slurmtest: %v", failed)
	}
	return cluster
}

func installed() error {
	for _, bin := range []string{"munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("a Slurm test cluster needs %s (Debian's slurm-wlm and munge packages)", bin)
		}
	}
	if os.Geteuid() != 0 {
		return errors.New("a Slurm test cluster needs root (its daemons do)")
	}
	return nil
}

// Start configures and starts a cluster in a new temporary folder.
func Start() (*Cluster, error) {
	dir, err := os.MkdirTemp("", "dogrun-slurm-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir}
	if err := c.start(); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) path(name string) string { return filepath.Join(c.dir, name) }

func (c *Cluster) start() error {
	key := make([]byte, 1024)
	rand.Read(key)
	if err := os.WriteFile(c.path("munge.key"), key, 0o400); err != nil {
		return err
	}
	socket := c.path("munge.socket")
	if err := c.daemon("munged", "--foreground", "--force", "--key-file="+c.path("munge.key"), "--socket="+socket,
		"--pid-file="+c.path("munged.pid"), "--log-file="+c.path("munged.log"), "--seed-file="+c.path("munged.seed")); err != nil {
		return err
	}
	if err := waitFor(10*time.Second, func() error { _, err := os.Stat(socket); return err }); err != nil {
		return fmt.Errorf("munged made no socket: %v\n%s", err, c.logTail("munged.log"))
	}
	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	host, err := os.Hostname()
	if err != nil {
		return err
	}
	host, _, _ = strings.Cut(host, ".")
	conf := fmt.Sprintf(`ClusterName=dogruntest
SlurmctldHost=%[1]s
SlurmctldPort=%[2]d
SlurmdPort=%[3]d
AuthType=auth/munge
AuthInfo=socket=%[4]s
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
ReturnToService=2
MpiDefault=none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
StateSaveLocation=%[5]s/state
SlurmdSpoolDir=%[5]s/spool
SlurmctldPidFile=%[5]s/slurmctld.pid
SlurmdPidFile=%[5]s/slurmd.pid
SlurmctldLogFile=%[5]s/slurmctld.log
SlurmdLogFile=%[5]s/slurmd.log
NodeName=%[1]s CPUs=%[6]d State=UNKNOWN
PartitionName=debug Nodes=%[1]s Default=YES MaxTime=INFINITE State=UP
`, host, ports[0], ports[1], socket, c.dir, CPUs)
	for _, d := range []string{"state", "spool"} {
		if err := os.MkdirAll(c.path(d), 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(c.path("slurm.conf"), []byte(conf), 0o644); err != nil {
		return err
	}
	c.Env = []string{"SLURM_CONF=" + c.path("slurm.conf")}
	if err := c.daemon("slurmctld", "-D", "-c"); err != nil {
		return err
	}
	if err := c.daemon("slurmd", "-D"); err != nil {
		return err
	}
	err = waitFor(60*time.Second, func() error {
		out, err := c.Command("sinfo", "-h", "-o", "%T").Output()
		if err == nil && strings.TrimSpace(string(out)) != "idle" {
			err = fmt.Errorf("node is %q", strings.TrimSpace(string(out)))
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("the node did not come up: %v\nslurmctld.log:\n%s\nslurmd.log:\n%s",
			err, c.logTail("slurmctld.log"), c.logTail("slurmd.log"))
	}
	return nil
}

// daemon starts a daemon in the foreground as a child that dies with us.
func (c *Cluster) daemon(name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), c.Env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := daemon.Start(cmd); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	c.daemons = append(c.daemons, cmd)
	return nil
}

// Command is a Slurm client command on this cluster.
func (c *Cluster) Command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), c.Env...)
	return cmd
}

// Stop cancels every job, shuts the daemons down and removes the folder.
func (c *Cluster) Stop() error {
	if len(c.daemons) > 1 {
		c.Command("scancel", "--user=root").Run()
		c.Command("scontrol", "shutdown").Run()
	}
	for i := len(c.daemons) - 1; i >= 0; i-- {
		d := c.daemons[i]
		done := make(chan struct{})
		go func() { d.Wait(); close(done) }()
		if i == 0 { // munged has no shutdown command
			d.Process.Signal(syscall.SIGTERM)
		}
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			d.Process.Kill()
			<-done
		}
	}
	return os.RemoveAll(c.dir)
}

func (c *Cluster) logTail(name string) string {
	b, _ := os.ReadFile(c.path(name))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}

func waitFor(timeout time.Duration, ready func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := ready()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", ":0")
		if err != nil {
			return nil, err
		}
		defer l.Close() // held until all are chosen, so they differ
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
