package commands

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"

	"github.com/portal-access/backend/domain"
)

// CreateTenant bootstraps a tenant with its provider company and first admin (operator only).
type CreateTenant struct {
	Tenant       string `json:"tenant"`
	Name         string `json:"name"`
	Seats        int    `json:"seats"`
	ProviderName string `json:"provider_name,omitempty"`
	AdminName    string `json:"admin_name"`
	AdminEmail   string `json:"admin_email"`
}

// CreateTenantHandler runs CreateTenant. The result carries the first admin's invitation
// token: it is shown once and only its hash is stored.
type CreateTenantHandler struct{ Directories *Directories }

// Handle runs the command.
func (h CreateTenantHandler) Handle(ctx context.Context, m Meta, in CreateTenant) (Result, error) {
	m.Tenant = domain.TenantID(in.Tenant)
	m = m.Prepare("CreateTenant")
	token, hash, err := NewInvitationToken()
	if err != nil {
		return Result{}, err
	}
	ids := map[string]string{
		"tenant": in.Tenant, "provider_company_id": m.NewID("provider"), "admin_group_id": m.NewID("admin-group"),
		"admin_person_id": m.NewID("admin"), "invitation_token": token,
	}
	return h.Directories.Execute(ctx, m, domain.CreateTenant{
		Name: in.Name, Seats: in.Seats, Provider: domain.CompanyID(ids["provider_company_id"]), ProviderName: in.ProviderName,
		AdminGroup: domain.GroupID(ids["admin_group_id"]), Admin: domain.PersonID(ids["admin_person_id"]),
		AdminName: in.AdminName, AdminEmail: in.AdminEmail, TokenHash: hash, Now: m.Now,
	}, ids)
}

// NewInvitationToken returns a fresh random invitation token and the hash that is stored.
func NewInvitationToken() (token, hash string, err error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, HashInvitationToken(token), nil
}

// HashInvitationToken is how a presented token is looked up: tokens are never stored.
func HashInvitationToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
