package main

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// TestSubmitK8sManifest decodes what dogrun submit k8s writes strictly (an
// unknown or misspelt field is an error) into Kubernetes' own API types, a
// ConfigMap and a batch/v1 Job, and checks what they say: an Indexed Job of
// -workers pods at once, each a dogrun worker on the experiment file, which
// the ConfigMap holds as it is.
func TestSubmitK8sManifest(t *testing.T) {
	file := filepath.Join(t.TempDir(), "Dropout_Study.yaml")
	text := strings.Replace(string(readFile(t, filepath.Join(packageDir, "..", "..", "experiments", "quickstart.yaml"))),
		"name: quickstart", "name: Dropout_Study", 1)
	writeFile(t, file, []byte(text))
	out := filepath.Join(t.TempDir(), "job.yaml")
	if _, _, err := dogrun(t, "submit", "k8s", file, "-workers", "5", "-cpus", "3", "-image", "registry.lab/dogrun:v1", "-o", out); err != nil {
		t.Fatal(err)
	}
	var docs [][]byte
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(readFile(t, out))))
	for {
		doc, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, doc)
	}
	if len(docs) != 2 {
		t.Fatalf("%d YAML documents, want a ConfigMap and a Job", len(docs))
	}
	var cm corev1.ConfigMap
	var job batchv1.Job
	if err := yaml.UnmarshalStrict(docs[0], &cm); err != nil {
		t.Fatalf("ConfigMap: %v", err)
	}
	if err := yaml.UnmarshalStrict(docs[1], &job); err != nil {
		t.Fatalf("Job: %v", err)
	}
	// Strict decoding does refuse what the API does not have.
	if err := yaml.UnmarshalStrict(bytes.Replace(docs[1], []byte("completionMode:"), []byte("completionsMode:"), 1), &batchv1.Job{}); err == nil {
		t.Error("a misspelt field decoded without error")
	}

	if cm.APIVersion != "v1" || cm.Kind != "ConfigMap" || job.APIVersion != "batch/v1" || job.Kind != "Job" {
		t.Errorf("kinds: %s %s, %s %s", cm.APIVersion, cm.Kind, job.APIVersion, job.Kind)
	}
	for _, name := range []string{cm.Name, job.Name} {
		if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 || name != "dogrun-dropout-study" {
			t.Errorf("object name %q: %v", name, errs)
		}
	}
	if cm.Data["Dropout_Study.yaml"] != text {
		t.Errorf("the ConfigMap does not hold the file as it is:\n%q", cm.Data)
	}
	s := job.Spec
	if s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion || s.Completions == nil || *s.Completions != 5 ||
		s.Parallelism == nil || *s.Parallelism != 5 {
		t.Errorf("job spec: mode %v, completions %v, parallelism %v; want Indexed, 5, 5", s.CompletionMode, s.Completions, s.Parallelism)
	}
	pod := s.Template.Spec
	if pod.RestartPolicy != corev1.RestartPolicyNever || len(pod.Containers) != 1 {
		t.Fatalf("pod: restart %s, %d containers", pod.RestartPolicy, len(pod.Containers))
	}
	c := pod.Containers[0]
	wantCmd := []string{"dogrun", "worker", "-photos", "/data/photos", "-runs", "/data/runs", "-threads", "3", "/etc/dogrun/Dropout_Study.yaml"}
	if c.Image != "registry.lab/dogrun:v1" || !slices.Equal(c.Command, wantCmd) {
		t.Errorf("container: image %s, command %q", c.Image, c.Command)
	}
	if cpu := c.Resources.Requests[corev1.ResourceCPU]; cpu.String() != "3" {
		t.Errorf("cpu request %s", cpu.String())
	}
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	if ref := env["DOGRUN_DB"].ValueFrom; ref == nil || ref.SecretKeyRef == nil || ref.SecretKeyRef.Name != "dogrun-db" || ref.SecretKeyRef.Key != "url" {
		t.Errorf("DOGRUN_DB does not come from the Secret: %+v", env["DOGRUN_DB"])
	}
	if env["DOGRUN_CACHE"].Value != "/data/cache" {
		t.Errorf("DOGRUN_CACHE: %+v", env["DOGRUN_CACHE"])
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
	}
	for _, m := range c.VolumeMounts {
		v, ok := volumes[m.Name]
		switch {
		case !ok:
			t.Errorf("mount %s has no volume", m.Name)
		case m.MountPath == "/etc/dogrun" && (v.ConfigMap == nil || v.ConfigMap.Name != cm.Name):
			t.Errorf("the experiment file's mount is not the ConfigMap: %+v", v)
		case m.MountPath == "/data" && (v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != "dogrun-data"):
			t.Errorf("/data is not the volume claim: %+v", v)
		}
	}
	if len(c.VolumeMounts) != 2 {
		t.Errorf("mounts: %+v", c.VolumeMounts)
	}
}

// TestScaleMessages: how worker, submit and copy answer mistakes, with
// their exit statuses.
func TestScaleMessages(t *testing.T) {
	dir := inEmptyFolder(t)
	t.Setenv("DOGRUN_DB", "")
	exp := filepath.Join(dir, "exp.yaml")
	writeFile(t, exp, []byte("name: exp\ndataset: {path: photos}\nbackbone: {name: mobilefacenet}\nseeds: [1]\n"))
	var got strings.Builder
	for _, args := range [][]string{
		{"worker"},
		{"worker", "-db", "elsewhere.db", "exp"},
		{"submit"},
		{"submit", "pbs", "exp.yaml", "-workers", "2"},
		{"submit", "slurm", "exp.yaml"},
		{"submit", "slurm", "exp.yaml", "-workers", "2"},
		{"submit", "k8s", "exp.yaml", "-workers", "2"},
		{"copy", "a.db"},
		{"copy", "a.db", "b.db"},
		{"copy", "postgres://ann:s3cret@127.0.0.1:1/dogrun?sslmode=disable", "b.db"},
	} {
		got.WriteString(attempt(t, dir, args...))
	}
	golden(t, "scale_messages", got.String())
	if left := folderHolds(t, dir); !slices.Equal(left, []string{"exp.yaml"}) {
		t.Errorf("the folder holds %v, want only exp.yaml", left)
	}
	for _, line := range strings.Split(got.String(), "\n") {
		if _, msg, _ := strings.Cut(line, ": exit "); strings.Contains(msg, "s3cret") {
			t.Errorf("a message shows the password: %s", msg)
		}
	}
}

func TestKubeName(t *testing.T) {
	for in, want := range map[string]string{
		"dogrun-quickstart":                       "dogrun-quickstart",
		"dogrun-Dropout_Study v2!":                "dogrun-dropout-study-v2",
		"dogrun-" + strings.Repeat("x", 80) + "-": "dogrun-" + strings.Repeat("x", 56),
	} {
		got := kubeName(in)
		if got != want || len(validation.IsDNS1123Label(got)) > 0 {
			t.Errorf("kubeName(%q) = %q, want %q, a valid name", in, got, want)
		}
	}
}

func TestYAMLLiteral(t *testing.T) {
	for _, text := range []string{"a: 1\n", "  indented first\n", "no newline", "two\n\n", "tab\there\n\n# comment\n", "cr\r\n", ""} {
		lit, err := yamlLiteral(text, 2)
		if err != nil {
			t.Fatal(err)
		}
		var back map[string]string
		if err := yaml.UnmarshalStrict([]byte("k: "+lit+"\n"), &back); err != nil || back["k"] != text {
			t.Errorf("%q as %q reads back as %q (%v)", text, lit, back["k"], err)
		}
	}
}

// The Slurm script, run by bash with a stand-in for dogrun: it starts the
// worker with the folders quoted, takes DOGRUN_DB from the environment
// first, and keeps no password (it then needs DOGRUN_DB passed on).
func TestSlurmScript(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a lab's folder")
	fake := filepath.Join(dir, "dogrun")
	writeFile(t, fake, []byte("#!/bin/sh\necho \"db=$DOGRUN_DB cache=$DOGRUN_CACHE args=$*\"\n"))
	if err := os.Chmod(fake, 0o755); err != nil {
		t.Fatal(err)
	}
	job := jobSpec{Name: "dropout", File: "/lab/dropout.yaml", Workers: 4, CPUs: 2, Dogrun: fake,
		Cache: filepath.Join(dir, "cache"), Runs: filepath.Join(dir, "runs"), Logs: filepath.Join(dir, "runs", "dropout", "slurm")}
	runScript := func(job jobSpec, env ...string) string {
		t.Helper()
		text, err := render(slurmScript, &job)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range []string{"#SBATCH --array=0-3", "#SBATCH --cpus-per-task=2"} {
			if !strings.Contains(text, "\n"+line+"\n") {
				t.Errorf("script lacks %q:\n%s", line, text)
			}
		}
		script := filepath.Join(dir, "job.sh")
		writeFile(t, script, []byte(text))
		cmd := exec.Command("bash", script)
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
		out, _ := cmd.CombinedOutput()
		return strings.ReplaceAll(string(out), dir, "$DIR")
	}
	job.DB = "postgres://ann@db.lab/dogrun"
	var got strings.Builder
	got.WriteString(runScript(job))
	got.WriteString(runScript(job, "DOGRUN_DB=postgres://ann@other/dogrun"))
	job.DB, job.DBNote = "", "the URL has a password, which this script does not keep: sbatch passes DOGRUN_DB on"
	got.WriteString(runScript(job))
	got.WriteString(runScript(job, "DOGRUN_DB=postgres://ann:s3cret@db.lab/dogrun"))
	golden(t, "slurm_script", got.String())
}
