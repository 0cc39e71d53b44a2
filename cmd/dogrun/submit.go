package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"text/template"

	"github.com/dogrun/dogrun/internal/english"
	"github.com/dogrun/dogrun/internal/workspace"
	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/runner"
	"github.com/dogrun/dogrun/schemas"
)

type submitCommand struct{ stdout, stderr io.Writer }

const submitUsage = `Usage: dogrun submit slurm|k8s [flags] FILE

Starts -workers dogrun workers on one experiment with a cluster's own
scheduler; they share a PostgreSQL results database.

slurm: registers FILE's experiment in the database (-db or DOGRUN_DB, a
PostgreSQL URL every node reaches) and writes a batch script that runs the
workers as a job array (default <runs>/<experiment>/slurm.sh); -sbatch also
submits it. The script runs this dogrun with this cache, on a file system
the nodes share. A URL with a password is not written into the script:
sbatch passes DOGRUN_DB on from the environment it is called in.

k8s: writes a ConfigMap holding FILE and an Indexed Job of -workers pods
(default <runs>/<experiment>/k8s.yaml) for kubectl apply -f. Each pod runs
the -image's dogrun worker on the file, which the first one registers; the
database URL comes from the Secret -db-secret (key url), the photos, cache
and trial folders from the volume claim -pvc (ReadWriteMany), mounted at
/data.

`

func (c *submitCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("submit", submitUsage, c.stderr)
	var store storeFlags
	store.register(fs)
	workers := fs.Int("workers", 0, "workers to start (required)")
	cpus := fs.Int("cpus", 2, "cores per worker (its -threads)")
	out := fs.String("o", "", "file to write (default <runs>/<experiment>/slurm.sh or k8s.yaml; - for stdout)")
	submit := fs.Bool("sbatch", false, "slurm: submit the script with sbatch")
	partition := fs.String("partition", "", "slurm: partition (default: the cluster's)")
	timeLimit := fs.String("time", "", "slurm: time limit of each worker, as sbatch takes it (default: the partition's)")
	image := fs.String("image", "", "k8s: container image with dogrun on its PATH (required)")
	pvc := fs.String("pvc", "dogrun-data", "k8s: PersistentVolumeClaim with photos, cache and runs")
	photos := fs.String("photos", "/data/photos", "k8s: the photos' folder in the pods")
	secret := fs.String("db-secret", "dogrun-db", "k8s: Secret whose key url is the PostgreSQL URL")
	memory := fs.String("memory", "4Gi", "k8s: memory per worker")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 || (pos[0] != "slurm" && pos[0] != "k8s") {
		fs.Usage()
		return fmt.Errorf("%w: submit needs slurm or k8s, then one FILE", errUsage)
	}
	if *workers < 1 || *cpus < 1 {
		fs.Usage()
		return fmt.Errorf("%w: -workers and -cpus must be at least 1", errUsage)
	}
	file, err := filepath.Abs(pos[1])
	if err != nil {
		return err
	}
	exp, err := schemas.Load(file)
	if err != nil {
		return err
	}
	job := jobSpec{Name: exp.Name, File: file, Workers: *workers, CPUs: *cpus}
	var text string
	if pos[0] == "slurm" {
		text, err = c.slurm(ctx, exp, store, &job, *partition, *timeLimit)
	} else {
		text, err = c.kubernetes(exp, &job, *image, *pvc, *photos, *secret, *memory)
	}
	if err != nil {
		return err
	}
	path := *out
	if path == "" {
		path = filepath.Join(store.runsDir, exp.Name, map[string]string{"slurm": "slurm.sh", "k8s": "k8s.yaml"}[pos[0]])
	}
	if path == "-" {
		_, err = io.WriteString(c.stdout, text)
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(path, []byte(text), 0o755); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "wrote %s\n", path)
	if pos[0] == "k8s" {
		fmt.Fprintf(c.stdout, "start the workers with: kubectl apply -f %s\n", path)
		return nil
	}
	if !*submit {
		fmt.Fprintf(c.stdout, "start the workers with: sbatch %s\n", path)
		return nil
	}
	return c.sbatch(ctx, path, store.path())
}

// jobSpec is what both launchers' files say.
type jobSpec struct {
	Name, File string
	Workers    int
	CPUs       int

	// Slurm
	Dogrun, Cache, Runs, Logs string
	DB, DBNote                string
	Partition, Time           string

	// Kubernetes
	KubeName, Key, Image, PVC, Photos, Secret, Memory string
	Text                                              string
}

// slurm registers the experiment and returns the job array script.
func (c *submitCommand) slurm(ctx context.Context, exp *schemas.Experiment, store storeFlags, job *jobSpec, partition, timeLimit string) (string, error) {
	db := store.path()
	if !results.IsURL(db) {
		return "", fmt.Errorf("submit slurm needs a PostgreSQL database (-db postgres://... or DOGRUN_DB): "+
			"workers on several machines cannot share the SQLite file %s", db)
	}
	cacheDir, err := workspace.CacheDir()
	if err != nil {
		return "", err
	}
	opts := runner.Options{OpenStore: store.create, RunsDir: store.runsDir, CacheDir: cacheDir, Log: c.stdout}
	sum, err := runner.Register(ctx, exp, opts)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(c.stdout, "registered %s: %s in %s\n", exp.Name, english.Count(sum.Planned, "trial"), results.Redact(db))
	if job.Dogrun, err = os.Executable(); err != nil {
		return "", err
	}
	job.Cache, job.Runs = opts.CacheDir, store.runsDir
	job.Logs = filepath.Join(store.runsDir, exp.Name, "slurm")
	if err := os.MkdirAll(job.Logs, 0o755); err != nil { // sbatch writes no log into a missing folder
		return "", err
	}
	job.DB, job.DBNote = db, ""
	if results.Redact(db) != db {
		job.DB, job.DBNote = "", "the URL has a password, which this script does not keep: sbatch passes DOGRUN_DB on"
	}
	job.Partition, job.Time = partition, timeLimit
	return render(slurmScript, job)
}

var slurmScript = `#!/bin/bash
# dogrun submit slurm wrote this for experiment {{.Name}} ({{.File}}):
# {{.Workers}} dogrun workers of one sweep, as a job array. They share the
# PostgreSQL database in DOGRUN_DB; dogrun status {{.Name}} shows progress.
#SBATCH --job-name={{sh (print "dogrun-" .Name)}}
#SBATCH --array=0-{{add .Workers -1}}
#SBATCH --cpus-per-task={{.CPUs}}
#SBATCH --output={{.Logs}}/%A_%a.out
{{- if .Partition}}
#SBATCH --partition={{.Partition}}
{{- end}}
{{- if .Time}}
#SBATCH --time={{.Time}}
{{- end}}
set -eu
{{- if .DB}}
if [ -z "${DOGRUN_DB:-}" ]; then DOGRUN_DB={{sh .DB}}; fi
export DOGRUN_DB
{{- else}}
# {{.DBNote}}
: "${DOGRUN_DB:?DOGRUN_DB is not set}"
{{- end}}
export DOGRUN_CACHE={{sh .Cache}}
exec {{sh .Dogrun}} worker -runs {{sh .Runs}} -threads {{.CPUs}} {{sh .Name}}
`

// sbatch submits the script, with DOGRUN_DB set to the full URL.
func (c *submitCommand) sbatch(ctx context.Context, script, db string) error {
	cmd := exec.CommandContext(ctx, "sbatch", "--parsable", script)
	cmd.Env = append(os.Environ(), "DOGRUN_DB="+db)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("sbatch %s: %v: %s", script, err, strings.TrimSpace(stderr.String()))
	}
	id := strings.TrimSpace(strings.Split(string(out), ";")[0]) // "id;cluster" on a federation
	fmt.Fprintf(c.stdout, "submitted job array %s (squeue -j %s lists its workers)\n", id, id)
	return nil
}

// kubernetes returns the ConfigMap and the Indexed Job.
func (c *submitCommand) kubernetes(exp *schemas.Experiment, job *jobSpec, image, pvc, photos, secret, memory string) (string, error) {
	if image == "" {
		return "", fmt.Errorf("%w: submit k8s needs -image, a container image with dogrun on its PATH", errUsage)
	}
	text, err := os.ReadFile(job.File)
	if err != nil {
		return "", err
	}
	job.KubeName = kubeName("dogrun-" + exp.Name)
	job.Key = filepath.Base(job.File)
	job.Image, job.PVC, job.Photos, job.Secret, job.Memory, job.Text = image, pvc, photos, secret, memory, string(text)
	return render(kubeManifest, job)
}

var kubeManifest = `# dogrun submit k8s wrote this for experiment {{.Name}} ({{.File}}):
# {{.Workers}} dogrun workers of one sweep as an Indexed Job. Apply it with
# kubectl apply -f; dogrun status {{.Name}} shows progress.
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{.KubeName}}
  annotations: {dogrun/experiment: {{q .Name}}}
data:
  {{q .Key}}: {{literal .Text 4}}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: {{.KubeName}}
  annotations: {dogrun/experiment: {{q .Name}}}
spec:
  completionMode: Indexed
  completions: {{.Workers}}
  parallelism: {{.Workers}}
  backoffLimit: {{.Workers}}  # a worker that fails is replaced; its trial is taken over
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: worker
          image: {{q .Image}}
          command: {{q (list "dogrun" "worker" "-photos" .Photos "-runs" "/data/runs" "-threads" (itoa .CPUs) (print "/etc/dogrun/" .Key))}}
          env:
            - name: DOGRUN_DB
              valueFrom: {secretKeyRef: {name: {{q .Secret}}, key: url}}
            - name: DOGRUN_CACHE
              value: /data/cache
          resources:
            requests: {cpu: "{{.CPUs}}", memory: {{q .Memory}}}
            limits: {memory: {{q .Memory}}}
          volumeMounts:
            - {name: experiment, mountPath: /etc/dogrun, readOnly: true}
            - {name: data, mountPath: /data}
      volumes:
        - name: experiment
          configMap: {name: {{.KubeName}}}
        - name: data
          persistentVolumeClaim: {claimName: {{q .PVC}}}
`

func render(text string, job *jobSpec) (string, error) {
	t, err := template.New("").Funcs(template.FuncMap{
		"add":  func(a, b int) int { return a + b },
		"itoa": strconv.Itoa,
		"list": func(xs ...string) []string { return xs },
		"q": func(v any) (string, error) { // JSON is YAML, and quotes anything safely
			b, err := json.Marshal(v)
			return string(b), err
		},
		"sh":      shellQuote,
		"literal": yamlLiteral,
	}).Parse(text)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	err = t.Execute(&b, job)
	return b.String(), err
}

// yamlLiteral is text as a YAML literal block indented by indent spaces,
// which people can read, or as a JSON string when a block would not keep it
// exactly (a first line that starts with a space, no single final newline,
// carriage returns).
func yamlLiteral(text string, indent int) (string, error) {
	if text == "" || strings.ContainsRune(text, '\r') || strings.HasPrefix(text, " ") ||
		!strings.HasSuffix(text, "\n") || strings.HasSuffix(text, "\n\n") {
		b, err := json.Marshal(text)
		return string(b), err
	}
	pad := strings.Repeat(" ", indent)
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = pad + l
		}
	}
	return "|\n" + strings.Join(lines, "\n"), nil
}

// shellQuote quotes s for bash unless it is plainly safe.
func shellQuote(s string) string {
	if regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`).MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// kubeName makes s a Kubernetes object name: lower-case letters, digits and
// '-', starting and ending with one of the first two, at most 63 long.
func kubeName(s string) string {
	s = regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(s), "-")
	if len(s) > 63 {
		s = s[:63]
	}
	return strings.Trim(s, "-")
}
