package slurmtest

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// A job array runs every task, several at once, and its output lands
// where the script says.
func TestJobArrayRunsEveryTask(t *testing.T) {
	c := Shared(t)
	dir := t.TempDir()
	script := filepath.Join(dir, "array.sh")
	body := "#!/bin/bash\n#SBATCH --array=0-2\n#SBATCH --cpus-per-task=1\n#SBATCH --output=" + dir + "/%a.out\n" +
		"echo \"task $SLURM_ARRAY_TASK_ID\"\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := c.Command("sbatch", "--parsable", "--wait", script).CombinedOutput()
	if err != nil {
		t.Fatalf("sbatch: %v\n%s", err, out)
	}
	var got []string
	deadline := time.Now().Add(30 * time.Second)
	for len(got) < 3 && time.Now().Before(deadline) {
		got = nil
		for i := range 3 {
			b, err := os.ReadFile(filepath.Join(dir, []string{"0", "1", "2"}[i]+".out"))
			if err == nil && len(b) > 0 {
				got = append(got, strings.TrimSpace(string(b)))
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if want := []string{"task 0", "task 1", "task 2"}; !slices.Equal(got, want) {
		t.Errorf("outputs %q, want %q", got, want)
	}
}
