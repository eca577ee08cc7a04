// Package browser holds Kilt's browser tests: Debian's Chromium, driven headless through
// chromedp, goes through every flow of the pages in Kazakh with JavaScript on and again with
// it off, and axe-core, injected into each page, checks it for accessibility. With
// KILT_SCREENSHOTS=DIR set, TestScreenshots writes the README's screenshots to DIR
// (`make screenshots`).
//
// This file finds what the tests need; scripts/test-deps.sh installs it. A test that cannot
// find it skips, unless CI=true or KILT_TEST_BROWSER=1, when it fails.
package browser

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/chromedp/chromedp"
)

// Chrome returns the Chromium to run: $KILT_CHROME when set, else chromium or
// chromium-browser on the PATH.
func Chrome() (string, error) {
	if p := os.Getenv("KILT_CHROME"); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			return "", fmt.Errorf("KILT_CHROME=%s: %w", p, err)
		}
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no Chromium: neither $KILT_CHROME nor chromium or chromium-browser on the PATH (scripts/test-deps.sh installs it)")
}

// Axe returns the path of axe-core's axe.min.js: $KILT_AXE when set, else
// .cache/axe/node_modules/axe-core/axe.min.js in the repository that holds the working
// directory.
func Axe() (string, error) {
	if p := os.Getenv("KILT_AXE"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("KILT_AXE: %w", err)
		}
		return p, nil
	}
	root, err := repositoryRoot()
	if err != nil {
		return "", fmt.Errorf("no axe-core: %w and $KILT_AXE is not set", err)
	}
	p := filepath.Join(root, ".cache", "axe", "node_modules", "axe-core", "axe.min.js")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("no axe-core at %s (scripts/test-deps.sh installs it)", p)
	}
	return p, nil
}

// repositoryRoot returns the directory of go.mod above the working directory.
func repositoryRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", errors.New("not inside the repository")
		}
		dir = up
	}
}

// Options are the allocator options that run the Chromium at path headless in the fresh
// profile directory dir. The browser talks to nothing but the pages it is sent to: no
// background requests, component updates, sync or QUIC, which a test machine without a
// network would only wait for. The sandbox is off because the tests run as root in a
// container, where Chromium's sandbox cannot start; the pages are the project's own.
func Options(path, dir string) []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(dir),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-features", "Translate,PasswordLeakDetection,OptimizationHints,MediaRouter"),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
		chromedp.Flag("force-color-profile", "srgb"),
	}
}
