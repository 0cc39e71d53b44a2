// Package docs holds no code: its tests check dogrun's documentation pages
// (README.md and docs/*.md): that their links, anchors and quoted repository
// paths resolve, that they name no folder of one machine, and that the import
// graph in architecture.md is the one scripts/importgraph prints.
package docs

import (
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// page is one Markdown file, by its path from the repository's root.
type page struct {
	path string // slash-separated, e.g. "docs/cli.md"
	text string
}

// repoRoot is the folder above this package's.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("no go.mod above docs/: %v", err)
	}
	return root
}

// pages reads README.md and docs/*.md.
func pages(t *testing.T, root string) []page {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	names = append([]string{filepath.Join(root, "README.md")}, names...)
	var out []page
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, n)
		out = append(out, page{path: filepath.ToSlash(rel), text: string(b)})
	}
	return out
}

var (
	fence      = regexp.MustCompile("^\\s*(```|~~~)")
	comment    = regexp.MustCompile(`(?s)<!--.*?-->`)
	codeSpan   = regexp.MustCompile("`([^`\n]+)`")
	link       = regexp.MustCompile(`\[((?:[^\[\]]|\[[^\]]*\])*)\]\(([^)\s]+)\)`)
	heading    = regexp.MustCompile(`^#{1,6}\s+(.+?)\s*#*\s*$`)
	repoPath   = regexp.MustCompile(`^[A-Za-z0-9_.@-]+(/[A-Za-z0-9_.@-]+)+/?$`)
	machineDir = regexp.MustCompile(`(^|[^A-Za-z0-9_.~-])(/(work|tmp|home|root|Users|mnt|private/var)/|[A-Z]:\\)`)
)

// prose blanks out fenced code blocks and HTML comments, keeping every other
// byte (and so line numbers) where it was.
func prose(text string) string {
	lines := strings.SplitAfter(text, "\n")
	in := false
	for i, l := range lines {
		if fence.MatchString(l) {
			in = !in
			lines[i] = blank(l)
		} else if in {
			lines[i] = blank(l)
		}
	}
	return comment.ReplaceAllStringFunc(strings.Join(lines, ""), blank)
}

// blank replaces every byte but newlines by a space.
func blank(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' {
			return r
		}
		return ' '
	}, s)
}

func lineOf(text string, offset int) int { return strings.Count(text[:offset], "\n") + 1 }

// anchors returns the ids GitHub gives a page's headings: lower case, spaces
// to hyphens, punctuation dropped, repeats numbered -1, -2, ...
func anchors(text string) map[string]bool {
	ids := map[string]bool{}
	seen := map[string]int{}
	for _, l := range strings.Split(prose(text), "\n") {
		m := heading.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		id := slug(m[1])
		if n := seen[id]; n > 0 {
			ids[id+"-"+itoa(n)] = true
		} else {
			ids[id] = true
		}
		seen[id]++
	}
	return ids
}

func slug(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

func itoa(n int) string {
	s := ""
	for ; n > 0; n /= 10 {
		s = string(rune('0'+n%10)) + s
	}
	return s
}

// TestLinksResolve checks every relative link and image of the pages: the file
// or folder exists inside the repository, and an #anchor names a heading of
// the Markdown page it points at.
func TestLinksResolve(t *testing.T) {
	root := repoRoot(t)
	all := pages(t, root)
	byPath := map[string]string{}
	for _, p := range all {
		byPath[p.path] = p.text
	}
	links := 0
	for _, p := range all {
		text := codeSpan.ReplaceAllStringFunc(prose(p.text), func(s string) string { return strings.Repeat("x", len(s)) })
		for _, m := range link.FindAllStringSubmatchIndex(text, -1) {
			target := text[m[4]:m[5]]
			where := p.path + ":" + itoa(lineOf(text, m[0]))
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			links++
			file, anchor, _ := strings.Cut(target, "#")
			dest := p.path
			if file != "" {
				dest = path.Clean(path.Join(path.Dir(p.path), file))
			}
			if dest == ".." || strings.HasPrefix(dest, "../") || path.IsAbs(file) {
				t.Errorf("%s: link %q leaves the repository", where, target)
				continue
			}
			if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(dest))); err != nil {
				t.Errorf("%s: link %q: %v", where, target, err)
				continue
			}
			if anchor == "" {
				continue
			}
			destText, ok := byPath[dest]
			if !ok {
				t.Errorf("%s: link %q: an anchor into %s, which is not one of the checked pages", where, target, dest)
				continue
			}
			if !anchors(destText)[anchor] {
				t.Errorf("%s: link %q: %s has no heading with the id %q", where, target, dest, anchor)
			}
		}
	}
	if links == 0 {
		t.Fatal("found no links at all: the link pattern is broken")
	}
	t.Logf("%d relative links checked", links)
}

// made are repository paths that commands create rather than git holding
// them; quoting them is fine.
var made = []string{
	"runs",                      // dogrun run and report
	".cache",                    // dogrun setup and the feature cache
	"report/testdata/artifacts", // the report's browser test
	"serve/testdata/artifacts",  // the dashboard's browser test
	"tools/parity/node_modules", // scripts/bootstrap
	"schemas/testdata/fuzz",     // go test -fuzz, when it finds a crasher
}

// TestQuotedPathsExist checks the repository paths quoted as code in the
// pages' prose (`train/dense.go`, `cmd/dogrun/testdata/bad/`): a path whose
// first element is at the repository's root must exist, so a moved file
// cannot leave a stale path behind.
func TestQuotedPathsExist(t *testing.T) {
	root := repoRoot(t)
	checked := 0
	for _, p := range pages(t, root) {
		text := prose(p.text)
		for _, m := range codeSpan.FindAllStringSubmatchIndex(text, -1) {
			q := text[m[2]:m[3]]
			if !repoPath.MatchString(q) {
				continue
			}
			first, _, _ := strings.Cut(q, "/")
			if first == "." || first == ".." {
				continue // ./dogrun, ../shared/data/dogfacenet
			}
			if _, err := os.Stat(filepath.Join(root, first)); err != nil {
				continue // not a repository path: checkpoint/head.json, model/fr_feature.onnx
			}
			clean := strings.TrimSuffix(q, "/")
			if slices.ContainsFunc(made, func(m string) bool { return clean == m || strings.HasPrefix(clean, m+"/") }) {
				continue
			}
			checked++
			if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(clean))); err != nil {
				t.Errorf("%s:%d: `%s` does not exist in the repository", p.path, lineOf(text, m[0]), q)
			}
		}
	}
	if checked == 0 {
		t.Fatal("checked no quoted path at all: the path pattern is broken")
	}
	t.Logf("%d quoted paths checked", checked)
}

// TestNoMachinePaths keeps folders of one machine (/work/..., /tmp/...,
// /home/...) out of the pages, code blocks included: paths are written
// relative to the repository or as placeholders.
func TestNoMachinePaths(t *testing.T) {
	root := repoRoot(t)
	for _, p := range pages(t, root) {
		for i, l := range strings.Split(p.text, "\n") {
			if m := machineDir.FindStringSubmatch(l); m != nil {
				t.Errorf("%s:%d: %q names a folder of one machine: %s", p.path, i+1, m[2], strings.TrimSpace(l))
			}
		}
	}
}

// TestEveryPageLinkedFromReadme: a page nobody links to is a page nobody
// finds.
func TestEveryPageLinkedFromReadme(t *testing.T) {
	root := repoRoot(t)
	all := pages(t, root)
	readme := all[0].text
	for _, p := range all[1:] {
		if !strings.Contains(readme, "("+p.path+")") && !strings.Contains(readme, "("+p.path+"#") {
			t.Errorf("README.md does not link to %s", p.path)
		}
	}
}

// TestImportGraphIsCurrent checks that architecture.md shows what
// scripts/importgraph prints for the code as it is.
func TestImportGraphIsCurrent(t *testing.T) {
	root := repoRoot(t)
	b, err := os.ReadFile(filepath.Join(root, "docs", "architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- importgraph: begin -->\n```mermaid\n", "```\n<!-- importgraph: end -->"
	_, rest, ok := strings.Cut(string(b), begin)
	shown, _, ok2 := strings.Cut(rest, end)
	if !ok || !ok2 {
		t.Fatalf("architecture.md has no block between %q and %q", begin, end)
	}
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "importgraph"))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scripts/importgraph: %v", err)
	}
	if shown == string(out) {
		return
	}
	was, now := strings.Split(shown, "\n"), strings.Split(string(out), "\n")
	i := 0
	for i < len(was) && i < len(now) && was[i] == now[i] {
		i++
	}
	line := func(l []string) string {
		if i < len(l) {
			return l[i]
		}
		return "(end)"
	}
	t.Errorf("architecture.md's import graph is out of date (replace its block with the output of scripts/importgraph); line %d of the graph shows %q, the script prints %q",
		i+1, line(was), line(now))
}
