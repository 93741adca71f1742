package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/portal-access/backend/commands"
	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/eventschema"
	"github.com/portal-access/backend/internal/esdbserver"
	"github.com/portal-access/backend/internal/esdbserver/eventlog"
	"github.com/portal-access/backend/internal/eventstore"
)

const tenantUsage = `Usage:
  portald tenant create --id T --name N --seats K --admin-email E --admin-name A [--provider-name P]

Run 'portald tenant create -h' for its flags.
`

func tenant(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, tenantUsage)
		return usageErr("tenant: no subcommand given (try 'portald tenant create -h')")
	}
	switch args[0] {
	case "create":
		return tenantCreate(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, tenantUsage)
		return nil
	}
	return usageErr("tenant: unknown subcommand %q (try 'portald tenant create -h')", args[0])
}

// tenantIDPattern keeps tenant ids safe in stream names, Redis keys ({tenant} hash tags), URLs
// and shells.
var tenantIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

func tenantCreate(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("tenant create", stderr)
	in := commands.CreateTenant{}
	fs.StringVar(&in.Tenant, "id", "", "tenant id: letters, digits, '.', '_', '-', at most 64 (required)")
	fs.StringVar(&in.Name, "name", "", "the tenant's name (required)")
	fs.IntVar(&in.Seats, "seats", 0, "licensed seats for normal users, at least 1: the first admin takes one (required)")
	fs.StringVar(&in.AdminEmail, "admin-email", "", "the first admin's e-mail address (required)")
	fs.StringVar(&in.AdminName, "admin-name", "", "the first admin's name (required)")
	fs.StringVar(&in.ProviderName, "provider-name", "", "name of the tenant's own (provider) company; default: --name")
	esURL := fs.String("eventstore", envOr("PORTAL_EVENTSTORE", ""), "esdb:// connection string of the external EventStoreDB the service uses (env PORTAL_EVENTSTORE); empty: the embedded store (see --esdb-listen, --data-dir)")
	esdbListen := fs.String("esdb-listen", envOr("PORTAL_ESDB_LISTEN", "127.0.0.1:2113"), "where a running portald's embedded event store listens (env PORTAL_ESDB_LISTEN)")
	dataDir := fs.String("data-dir", envOr("PORTAL_DATA_DIR", "./data"), "the embedded event store's data, opened in-process when no portald is running on it (env PORTAL_DATA_DIR)")
	apiURL := fs.String("api-url", "http://"+envOr("PORTAL_HTTP_ADDR", "127.0.0.1:8080"), "the API's URL, used in the printed next steps")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	logLevel := fs.String("log-level", envOr("PORTAL_LOG_LEVEL", "warn"), "debug, info, warn or error")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	for _, f := range []string{"id", "name", "seats", "admin-email", "admin-name"} {
		if !given(fs, f) {
			return usageErr("tenant create: --%s is required", f)
		}
	}
	if given(fs, "eventstore") && given(fs, "data-dir") {
		return usageErr("tenant create: use --eventstore or --data-dir, not both")
	}
	in.Tenant = strings.TrimSpace(in.Tenant)
	if !tenantIDPattern.MatchString(in.Tenant) {
		return fmt.Errorf("tenant create: --id %q: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", in.Tenant)
	}
	logger, err := newLogger(stderr, *logLevel, "text")
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	side, err := openCommandSide(ctx, *esURL, *esdbListen, *dataDir, given(fs, "data-dir"), logger)
	if err != nil {
		return err
	}
	defer side.close()

	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := side.handlers.Directory.CreateTenant.Handle(cctx,
		commands.Meta{Tenant: domain.TenantID(in.Tenant), Principal: domain.System(), Reason: "portald tenant create"}, in)
	if err != nil {
		return tenantRefusal(err)
	}
	out := tenantCreated{
		Tenant: in.Tenant, ProviderCompanyID: res.IDs["provider_company_id"], AdminGroupID: res.IDs["admin_group_id"],
		AdminPersonID: res.IDs["admin_person_id"], InvitationToken: res.IDs["invitation_token"],
		InvitationExpires: time.Now().Add(domain.DefaultInvitationTTL).UTC().Format(time.RFC3339),
		Position:          res.Position.String(), EventStore: side.where,
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	printNextSteps(stdout, out, in, strings.TrimSuffix(*apiURL, "/"))
	return nil
}

type tenantCreated struct {
	Tenant            string `json:"tenant"`
	ProviderCompanyID string `json:"provider_company_id"`
	AdminGroupID      string `json:"admin_group_id"`
	AdminPersonID     string `json:"admin_person_id"`
	InvitationToken   string `json:"invitation_token"`
	InvitationExpires string `json:"invitation_expires"`
	Position          string `json:"position"`
	EventStore        string `json:"event_store"`
}

func printNextSteps(w io.Writer, out tenantCreated, in commands.CreateTenant, api string) {
	fmt.Fprintf(w, `Tenant %q created (%s, log position %s).

  tenant id:            %s
  provider company id:  %s
  admin group id:       %s
  admin person id:      %s
  invitation token:     %s
                        (shown only once; valid until %s)

Next steps for the first admin, %s <%s>:

  1. Get a token for your login. With development authentication (portald serve without --eventstore):
       TOKEN=$(portald token --tenant %s --sub <your-login>)
     With OpenID Connect, sign in at the tenant's provider: the token's tenant claim must be %q,
     and its sub is the login that the next step binds to the admin.

  2. Accept the invitation, which binds that login to the admin account:
       curl -X POST %s/v1/invitations/accept \
         -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \
         -d '{"token":"%s"}'

  3. Act as the admin, e.g. register a customer company:
       curl -X POST %s/v1/companies \
         -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \
         -d '{"name":"Globex","kind":"customer"}'
`, out.Tenant, out.EventStore, out.Position, out.Tenant, out.ProviderCompanyID, out.AdminGroupID, out.AdminPersonID,
		out.InvitationToken, out.InvitationExpires, strings.TrimSpace(in.AdminName), strings.TrimSpace(in.AdminEmail),
		out.Tenant, out.Tenant, api, out.InvitationToken, api)
}

// tenantRefusal turns a refusal into one line naming the flag at fault (exit 1).
func tenantRefusal(err error) error {
	var de *domain.Error
	if !errors.As(err, &de) {
		return fmt.Errorf("tenant create: %w", err)
	}
	switch {
	case errors.Is(err, domain.ErrAlreadyExists):
		return fmt.Errorf("tenant create: %s (refused: %s)", de.Message, de.Code)
	case de.Field != "":
		return fmt.Errorf("tenant create: --%s: %s (refused: %s)", strings.ReplaceAll(de.Field, "_", "-"), de.Message, de.Code)
	}
	return fmt.Errorf("tenant create: %s (refused: %s)", de.Message, de.Code)
}

// commandSide is the command handlers over an event store, for operator tools.
type commandSide struct {
	handlers *commands.Handlers
	where    string
	close    func()
	store    *eventstore.Client
	reg      *eventschema.Registry
}

// openCommandSide reaches the event store the service uses. With --eventstore that is the
// external store, and only it. Otherwise it is the embedded store of the data directory, which
// a running portald locks: reached through that portald's event store at --esdb-listen when
// one answers there, else opened in-process. When the operator named the data directory
// (preferDataDir), it is tried first and a running portald is reached only if it holds the
// lock; otherwise a running portald is tried first, so that the tool finds the service's store
// from any working directory.
func openCommandSide(ctx context.Context, esURL, esdbListen, dataDir string, preferDataDir bool, logger *slog.Logger) (*commandSide, error) {
	if esURL != "" {
		store, err := connectStore(ctx, esURL, 10*time.Second, logger)
		if err != nil {
			return nil, err
		}
		return newCommandSide(store, "event store "+redactURL(esURL), nil, logger)
	}
	running := "esdb://" + esdbListen + "?tls=false"
	viaRunning := func(timeout time.Duration) (*commandSide, error) {
		store, err := connectStore(ctx, running, timeout, logger)
		if err != nil {
			return nil, err
		}
		return newCommandSide(store, "through the running portald's event store at "+esdbListen, nil, logger)
	}
	if !preferDataDir {
		if side, err := viaRunning(3 * time.Second); err == nil {
			return side, nil
		}
	}
	srv, err := esdbserver.Start(esdbserver.Config{DataDir: dataDir, Listen: "127.0.0.1:0", Logger: logger})
	if errors.Is(err, eventlog.ErrLocked) {
		if preferDataDir {
			if side, err := viaRunning(10 * time.Second); err == nil {
				return side, nil
			}
		}
		return nil, fmt.Errorf("data directory %s is in use by a running portald, but no event store answers at %s: pass its --esdb-listen address (or --eventstore)", dataDir, esdbListen)
	}
	if err != nil {
		return nil, err
	}
	store, err := connectStore(ctx, srv.ConnectionString(), 10*time.Second, logger)
	if err != nil {
		_ = srv.Close()
		return nil, err
	}
	return newCommandSide(store, "data directory "+dataDir+", opened in-process", func() {
		if err := srv.Close(); err != nil {
			logger.Error("closing the embedded event store", "error", err)
		}
	}, logger)
}

func connectStore(ctx context.Context, url string, timeout time.Duration, logger *slog.Logger) (*eventstore.Client, error) {
	store, err := eventstore.Connect(url, logger)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, err := store.LastPosition(pctx); err != nil {
		_ = store.Close()
		return nil, fmt.Errorf("event store at %s is not reachable: %w", redactURL(url), err)
	}
	return store, nil
}

func newCommandSide(store *eventstore.Client, where string, closeServer func(), logger *slog.Logger) (*commandSide, error) {
	reg, err := eventschema.Portal()
	if err != nil {
		_ = store.Close()
		if closeServer != nil {
			closeServer()
		}
		return nil, err
	}
	dirs := commands.NewDirectories(store, reg)
	return &commandSide{
		store:    store,
		reg:      reg,
		handlers: commands.NewHandlers(dirs, commands.NewTickets(store, reg), logger),
		where:    where,
		close: func() {
			_ = store.Close()
			if closeServer != nil {
				closeServer()
			}
		},
	}, nil
}

// redactURL hides credentials in a connection string.
func redactURL(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	if at := strings.LastIndex(rest[:end], "@"); at >= 0 {
		return scheme + "://***@" + rest[at+1:]
	}
	return u
}
