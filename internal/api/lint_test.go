package api_test

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"kilt/internal/api"
)

// redoclyRequired reports whether a missing Redocly CLI fails the lint test instead of
// skipping it: in CI, and under `make test`.
func redoclyRequired() bool {
	return os.Getenv("CI") == "true" || os.Getenv("KILT_TEST_LINT") == "1"
}

// redocly returns the path of Redocly CLI: $KILT_REDOCLY, else what scripts/test-deps.sh
// installs in .cache/redocly.
func redocly(t *testing.T) string {
	t.Helper()
	p := os.Getenv("KILT_REDOCLY")
	if p == "" {
		p = filepath.Join("..", "..", ".cache", "redocly", "node_modules", ".bin", "redocly")
	}
	p, err := filepath.Abs(p)
	if err == nil {
		_, err = os.Stat(p)
	}
	if err == nil {
		_, err = exec.LookPath("node")
	}
	if err == nil {
		return p
	}
	if redoclyRequired() {
		t.Fatalf("Redocly CLI required (CI=true or KILT_TEST_LINT=1) but: %v (run scripts/test-deps.sh, or set KILT_REDOCLY)", err)
	}
	t.Skipf("skipping the OpenAPI lint: %v (run scripts/test-deps.sh, or set KILT_REDOCLY)", err)
	return ""
}

// TestOpenAPILint runs Redocly CLI's recommended rules on the document portal developers
// generate clients from: it must give no error and no warning. A call added later follows
// the shape of the others: operationId, summary, `security` (an empty list for the public
// calls, the session schemes for the others), a 4xx answer, every required property
// defined.
func TestOpenAPILint(t *testing.T) {
	bin := redocly(t)
	doc := filepath.Join(t.TempDir(), "openapi.json")
	if err := os.WriteFile(doc, api.OpenAPI(), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "lint", "--format=json", doc)
	cmd.Dir = t.TempDir() // no redocly.yaml there: the built-in recommended rules
	cmd.Env = append(os.Environ(), "REDOCLY_TELEMETRY=off", "REDOCLY_SUPPRESS_UPDATE_NOTICE=true", "NO_UPDATE_NOTIFIER=1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("running %s: %v\n%s", bin, err, stderr.String())
	}
	var report struct {
		Totals struct {
			Errors   int `json:"errors"`
			Warnings int `json:"warnings"`
		} `json:"totals"`
		Problems []struct {
			RuleID   string `json:"ruleId"`
			Severity string `json:"severity"`
			Message  string `json:"message"`
			Location []struct {
				Pointer string `json:"pointer"`
			} `json:"location"`
		} `json:"problems"`
	}
	if jerr := json.Unmarshal(out, &report); jerr != nil {
		t.Fatalf("redocly lint (%v): its report is not JSON (%v):\n%s\n%s", err, jerr, out, stderr.String())
	}
	for _, p := range report.Problems {
		where := ""
		if len(p.Location) > 0 {
			where = p.Location[0].Pointer
		}
		t.Errorf("%s %s at %s: %s", p.Severity, p.RuleID, where, p.Message)
	}
	if report.Totals.Errors != 0 || report.Totals.Warnings != 0 || err != nil {
		t.Errorf("redocly lint: %d errors, %d warnings (exit: %v), want none", report.Totals.Errors, report.Totals.Warnings, err)
	}
}
