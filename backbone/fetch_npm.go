package backbone

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// defaultRegistry is npm's own default, used when npm is not installed.
const defaultRegistry = "https://registry.npmjs.org/"

// npmRegistry is the registry npm is configured with (`npm config get
// registry`, which honours .npmrc and npm_config_registry), so a mirror set
// for npm serves dogrun too. Without npm, $npm_config_registry or npm's
// default.
var npmRegistry = sync.OnceValue(func() string {
	if _, err := exec.LookPath("npm"); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "npm", "config", "get", "registry")
		cmd.Env = append(os.Environ(), "npm_config_update_notifier=false")
		if out, err := cmd.Output(); err == nil && strings.HasPrefix(strings.TrimSpace(string(out)), "http") {
			return withSlash(strings.TrimSpace(string(out)))
		}
	}
	for _, env := range []string{"npm_config_registry", "NPM_CONFIG_REGISTRY"} {
		if r := os.Getenv(env); r != "" {
			return withSlash(r)
		}
	}
	return defaultRegistry
})

// Registry is the npm registry dogrun fetches from.
func Registry() string { return npmRegistry() }

func withSlash(url string) string { return strings.TrimSuffix(url, "/") + "/" }

// npmDist is where a package version's tarball is and what it must hash to.
type npmDist struct {
	Tarball   string `json:"tarball"`
	Integrity string `json:"integrity"`
	sha512    string // base64, from Integrity
}

// resolve asks the registry for the tarball and integrity of src's version,
// from the package document npm itself reads when it installs.
func resolve(ctx context.Context, registry string, src Source) (npmDist, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	// npm's own escaping: @scope/name is one path segment.
	url := registry + strings.Replace(src.Package, "/", "%2f", 1)
	body, _, err := get(ctx, url, "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8")
	if err != nil {
		return npmDist{}, fmt.Errorf("%s@%s: %w (dogrun fetches ONNX Runtime and the backbones from the npm registry; `npm config set registry URL` points it at a mirror)", src.Package, src.Version, err)
	}
	defer body.Close()
	var doc struct {
		Versions map[string]struct {
			Dist npmDist `json:"dist"`
		} `json:"versions"`
	}
	if err := json.NewDecoder(body).Decode(&doc); err != nil {
		return npmDist{}, fmt.Errorf("%s: %w", url, err)
	}
	v, ok := doc.Versions[src.Version]
	if !ok || v.Dist.Tarball == "" {
		return npmDist{}, fmt.Errorf("%s@%s is not on the registry %s", src.Package, src.Version, registry)
	}
	for _, h := range strings.Fields(v.Dist.Integrity) {
		if b64, ok := strings.CutPrefix(h, "sha512-"); ok {
			v.Dist.sha512 = b64
		}
	}
	if v.Dist.sha512 == "" {
		return npmDist{}, fmt.Errorf("%s@%s: the registry %s gives no sha512 integrity (%q)", src.Package, src.Version, registry, v.Dist.Integrity)
	}
	return v.Dist, nil
}

// get starts a GET of url (accept: its Accept header, if any) and returns
// its body and length (-1 if unknown).
func get(ctx context.Context, url, accept string) (io.ReadCloser, int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, err
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, 0, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, 0, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return resp.Body, resp.ContentLength, nil
}
