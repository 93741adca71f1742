// Package directory is the directory read model: the display data the read API needs about a
// tenant's companies, sites, user groups, people, tickets (with their comments and documents)
// and company documents. It is a projections.Projection named "directory" (Projection) and a
// small read API over the same keys (Reader), every call O(1) or O(page) Redis reads.
//
// It holds what things are called and how they stand, not who may see them: visibility is the
// visibility projection's business, and the read API combines both (for instance it answers a
// foreign person referenced by a visible ticket with LimitedPerson, name only).
//
// # Key layout
//
// Every key lives under projections.Keys.Tenant(tenant) + "dir:" (so "{prefix}:g{N}:{tenant}:dir:…",
// one Redis Cluster slot per tenant). The segment after "dir:" names the kind of key and never
// contains the id, so no id can make two kinds of key collide. Indexes are sorted sets scored by
// the log position (commit) of the event that added the member: listings come in the order
// things were added, pages are ZRANGE by rank, and a rebuild from the same log gives the same
// scores. "removed" below means status removed.
//
//	dir:tenant                 HASH   name, seats
//	dir:companies              ZSET   the tenant's companies
//	dir:co:{company}           HASH   id, name, kind, parent?, registered_by?, master_admin?
//	dir:co-daughters:{company} ZSET   its direct daughter companies
//	dir:co-sites:{company}     ZSET   its sites
//	dir:co-people:{company}    ZSET   people whose home company it is (users and contacts), removed excluded
//	dir:co-members:{company}   ZSET   people holding a membership in it (any role)
//	dir:co-docs:{company}      ZSET   its company documents (not its tickets' documents)
//	dir:site:{site}            HASH   id, company, name, address?
//	dir:site-users:{site}      ZSET   people whose basic or manager membership covers the site
//	dir:site-refs:{site}       SET    (internal) people naming the site anywhere: read or write site,
//	                                  or the sites of a membership — who a SiteRemoved must touch
//	dir:groups                 ZSET   the tenant's user groups
//	dir:g:{group}              HASH   id, name, support_user (0/1), permissions (JSON PermissionSet)
//	dir:p:{person}             HASH   id, name, email, type, class, status, home_company, group?,
//	                                  subject? (bound identity, never shown), mfa_required? (1), invitation_expires_at? (RFC 3339),
//	                                  memberships? (JSON [Membership] by company),
//	                                  site_permissions? (JSON), ticket_restrictions? (JSON),
//	                                  notification_prefs? (JSON [string])
//	dir:subject:{subject}      STRING the person the subject was bound to (valid while that person's
//	                                  record carries the subject: see Reader.PersonBySubject)
//	dir:t:{ticket}             HASH   id, company, site?, type, status, title, description?,
//	                                  reporter?, responsible_group?, responsible_user?,
//	                                  contractor?, technician?, opened_at, updated_at,
//	                                  comments (count), documents (count), ver (the log
//	                                  position of the record's last change: "commit/prepare")
//	dir:cache:tcard:{ticket}   STRING a card the read API rendered from the record (readapi's
//	                                  format, with an expiry); the projection deletes it with
//	                                  every change of the record, and the read API stores one
//	                                  only if the version it rendered is still the record's.
//	                                  Not a read model: never compared, safe to drop
//	dir:t-comments:{ticket}    LIST   its comments in log order, each JSON Comment
//	dir:t-docs:{ticket}        ZSET   its documents
//	dir:d:{document}           HASH   id, company, ticket?, name, content_type, size_bytes,
//	                                  uploaded_by?, attached_at
//
// Fields marked ? are absent (not empty) when they have no value. Times are the envelope's
// occurred_at in UTC, RFC 3339 with nanoseconds; a ticket's updated_at is the occurred_at of the
// last event of its stream (opened, status, assignment, contractor, comment, document).
//
// # How it follows the domain
//
// Every handler mirrors the Evolve step of its event in domain/events.go and
// domain/ticket_events.go: an event about a person, company, group or ticket the read model does
// not know changes nothing, as Evolve ignores it. A person's class is derived as
// domain.Directory.ClassOf does (contact; system user in a group without the support-user flag:
// normal; otherwise support) whenever its type or group changes; a group's flag is fixed for
// life, so a group's creation or permission change never reclassifies anyone. A removed user
// keeps its record (status removed, no memberships) and leaves its home company's people.
//
// The projection never reads Redis while applying: it keeps in memory, per tenant, the little
// its handlers must know (which companies, sites, groups and tickets exist, a company's parent
// and master admin, a site's company, a group's support-user flag, every person's record, the
// sites each person names) — a mirror of what Redis holds as of the last committed event. So a
// rebuild applies thousands of events per MULTI/EXEC (projections.Batchable), their writes
// combined per key (projections.Writes), and the checkpoint moves in the same transaction, so
// a crash can neither lose nor double an event. An event's changes to the memory are staged
// and kept only once its transaction succeeded (a retry starts from the state as it was); a
// new process re-derives the memory by replaying the log up to the checkpoint through the same
// handlers, writes left out (projections.Replayer): it is never loaded from Redis, so it
// cannot disagree with the log.
package directory
