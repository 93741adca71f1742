package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/internal/auth"
)

// devKeyFile is the development signing secret's file in the data directory.
const devKeyFile = "dev-signing-key"

// minDevSecret is the shortest development signing secret accepted.
const minDevSecret = 32

func token(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("token", stderr)
	tenant := fs.String("tenant", "", "tenant id the token is for (required)")
	sub := fs.String("sub", "", "subject: a user's login (the sub bound when accepting an invitation), or a service's client id with --service (required)")
	service := fs.Bool("service", false, "mint a service (client credentials) token instead of a user token")
	scopes := fs.String("scopes", "", "comma-separated permissions of a service token, e.g. tickets:read,tickets:write (with --service)")
	ttl := fs.Duration("ttl", time.Hour, "how long the token is valid")
	dataDir := fs.String("data-dir", envOr("PORTAL_DATA_DIR", "./data"), "data directory whose "+devKeyFile+" signs the token (env PORTAL_DATA_DIR)")
	secret := fs.String("dev-secret", "", "development signing secret, instead of the data directory's key file (env PORTAL_DEV_SECRET)")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	switch {
	case strings.TrimSpace(*tenant) == "":
		return usageErr("token: --tenant is required")
	case strings.TrimSpace(*sub) == "":
		return usageErr("token: --sub is required")
	case *scopes != "" && !*service:
		return usageErr("token: --scopes is only for service tokens (add --service)")
	case *ttl <= 0:
		return usageErr("token: --ttl must be positive")
	case given(fs, "data-dir") && given(fs, "dev-secret"):
		return usageErr("token: use --data-dir or --dev-secret, not both")
	}
	key, err := devSecret(secretFromEnv(*secret), *dataDir, false)
	if err != nil {
		return err
	}
	dev, err := auth.NewDev(key)
	if err != nil {
		return usageErr("token: %v", err)
	}
	kind := domain.PrincipalUser
	if *service {
		kind = domain.PrincipalService
	}
	tok, err := dev.Mint(domain.TenantID(strings.TrimSpace(*tenant)), kind, strings.TrimSpace(*sub), splitList(*scopes), *ttl)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}

// secretFromEnv is the --dev-secret value, else PORTAL_DEV_SECRET. The environment is not
// made the flag's default, so that -h never prints the secret.
func secretFromEnv(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	return os.Getenv("PORTAL_DEV_SECRET")
}

// devSecret is the development signing secret: the explicit one when given, else the data
// directory's key file, created (32 random bytes, hex, mode 0600) when create is true.
// The secret is the text itself, so PORTAL_DEV_SECRET=$(cat data/dev-signing-key) is the same key.
func devSecret(explicit, dataDir string, create bool) ([]byte, error) {
	if explicit != "" {
		if len(explicit) < minDevSecret {
			return nil, usageErr("--dev-secret must be at least %d characters", minDevSecret)
		}
		return []byte(explicit), nil
	}
	path := filepath.Join(dataDir, devKeyFile)
	key, err := readDevKey(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	if !create {
		return nil, fmt.Errorf("no development signing key at %s: start 'portald serve' (development authentication) on that data directory once, or pass --dev-secret", path)
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	// Written to a temporary file (mode 0600), then linked into place: a concurrent reader
	// never sees a partial key, and of two processes creating it at once the first one wins.
	tmp, err := os.CreateTemp(dataDir, "."+devKeyFile+"-*")
	if err != nil {
		return nil, fmt.Errorf("create development signing key: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(hex.EncodeToString(raw) + "\n")
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(tmp.Name(), path)
	}
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("create development signing key: %w", err)
	}
	return readDevKey(path)
}

func readDevKey(path string) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("read development signing key: %w", err)
	}
	if info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("development signing key %s is accessible by other users (mode %04o): chmod 600 it", path, info.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read development signing key: %w", err)
	}
	key := strings.TrimSpace(string(b))
	if len(key) < minDevSecret {
		return nil, fmt.Errorf("development signing key %s holds fewer than %d characters: delete it to have a new one made", path, minDevSecret)
	}
	return []byte(key), nil
}
