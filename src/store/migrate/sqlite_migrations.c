/*
 * SQLite schema history (see sqlite_migrations.h). Version 1 is the initial schema: patients,
 * devices, assignments, the obs_codes reference table and observations. Version 2 adds the
 * device presence the MQTT gateway reports (connect and disconnect times, signal strength).
 * Version 3 adds device events and the queue of commands to devices. Version 4 adds clinical
 * rules settings, alert episodes and webhooks. Version 5 adds people and machines that use
 * the API: users, their wards and caseloads, MFA recovery codes, sessions, pending logins,
 * API tokens, login throttling and break-glass grants (docs/security.md); version 6 adds the
 * audit trail. The
 * reasoning behind the observation table's shape, and the benchmark that chose it, is in
 * docs/internals/store.md and bench/README.md.
 * Layer: store/migrate (data only, no SQLite header). Thread: any.
 */
#include "store/migrate/sqlite_migrations.h"
#include "store/store.h"

/*
 * Observations: one WITHOUT ROWID table clustered on (patient_id, effective_us, code,
 * device_id), plus obs_latest, one row per (patient, code). Why this shape (measured in
 * bench/README.md):
 *   - Ingest cost is set by how many B-tree pages each commit dirties, and that is the
 *     number of distinct insertion points the commit touches. New readings of a patient
 *     arrive in time order, and a snapshot's codes share one instant, so clustering by
 *     (patient, time) gives ONE insertion point per patient and packs a snapshot into one
 *     page. Clustering by (patient, code, time), or any (device|patient, code, ...) index,
 *     gives one per patient-code: 8x the dirty pages, and SQLite's page splits in the middle
 *     of a tree make it worse still.
 *   - The key is also the dedup key: a reading resent by its device (same device, code and
 *     time, attributed to the same patient) is skipped by INSERT ... ON CONFLICT DO NOTHING.
 *     Manual entries (device_id 0) are deduplicated per patient, so two patients' readings
 *     entered for the same minute never collide.
 *   - Queries are range scans of one patient's time window: every code in time order
 *     directly, one code by filtering that window (a chart of one of 8 codes reads 8x the
 *     rows it returns; still bounded by patient and time).
 *   - "Latest per code" would otherwise scan back through a patient's history until each
 *     code appears; obs_latest answers it with one row per code. The writer maintains it in
 *     the same transaction, one upsert per (patient, code) per batch, not per reading.
 * No foreign keys on obs: the ingest path resolves device and patient before enqueueing, and
 * a parent lookup per row would double the write cost.
 */
static const char schema_v1[] =
    "PRAGMA application_id = 1296581169;\n" /* 0x4D484231 'MHB1' */
    "CREATE TABLE patients(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  mrn TEXT NOT NULL UNIQUE,\n"
    "  name TEXT NOT NULL DEFAULT '',\n"
    "  birth_date TEXT NOT NULL DEFAULT '',\n"
    "  ward TEXT NOT NULL DEFAULT '',\n"
    "  location TEXT NOT NULL DEFAULT '',\n"
    "  created_us INTEGER NOT NULL\n"
    ");\n"
    "CREATE INDEX patients_ward ON patients(ward, location, name);\n"
    "CREATE TABLE devices(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  uid TEXT NOT NULL UNIQUE,\n"
    "  kind TEXT NOT NULL,\n"
    "  model TEXT NOT NULL DEFAULT '',\n"
    "  firmware TEXT NOT NULL DEFAULT '',\n"
    "  secret_hash TEXT NOT NULL DEFAULT '',\n"
    "  status INTEGER NOT NULL DEFAULT 0,\n"
    "  last_seen_us INTEGER NOT NULL DEFAULT 0,\n"
    "  battery_pct INTEGER NOT NULL DEFAULT -1,\n"
    "  created_us INTEGER NOT NULL\n"
    ");\n"
    "CREATE TABLE assignments(\n"
    "  device_id INTEGER NOT NULL REFERENCES devices(id),\n"
    "  patient_id INTEGER NOT NULL REFERENCES patients(id),\n"
    "  start_us INTEGER NOT NULL,\n"
    "  end_us INTEGER,\n" /* NULL while open */
    "  CHECK (end_us IS NULL OR end_us >= start_us)\n"
    ");\n"
    "CREATE INDEX assignments_device ON assignments(device_id, start_us);\n"
    "CREATE INDEX assignments_patient ON assignments(patient_id);\n"
    "CREATE UNIQUE INDEX assignments_open ON assignments(device_id) WHERE end_us IS NULL;\n"
    "CREATE TABLE obs_codes(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  loinc TEXT NOT NULL UNIQUE,\n"
    "  ucum TEXT NOT NULL\n"
    ");\n"
    "INSERT INTO obs_codes(id, loinc, ucum) VALUES\n"
    "  (1, '8867-4', '/min'), (2, '76282-3', '/min'), (3, '8889-8', '/min'),\n"
    "  (4, '9279-1', '/min'), (5, '2708-6', '%'), (6, '8480-6', 'mm[Hg]'),\n"
    "  (7, '8462-4', 'mm[Hg]'), (8, '8478-0', 'mm[Hg]'), (9, '8310-5', 'Cel'),\n"
    "  (10, '29463-7', 'kg'), (11, '8302-2', 'cm'), (12, '39156-5', 'kg/m2'),\n"
    "  (13, '41653-7', 'mg/dL'), (14, '14743-9', 'mmol/L'), (15, '99504-3', 'mg/dL'),\n"
    "  (16, '105272-9', 'mmol/L'), (17, '55423-8', '{steps}'), (18, '93832-4', 'h'),\n"
    "  (19, '61006-3', '%'), (20, '40443-4', '/min');\n"
    /* Latest reading per (patient, code): max effective_us, ties to the lowest device_id;
     * readings of unassigned devices (patient_id 0) are not tracked. */
    "CREATE TABLE obs_latest(\n"
    "  patient_id INTEGER NOT NULL,\n"
    "  code INTEGER NOT NULL,\n"
    "  effective_us INTEGER NOT NULL,\n"
    "  device_id INTEGER NOT NULL,\n"
    "  value REAL NOT NULL,\n"
    "  received_us INTEGER NOT NULL,\n"
    "  status INTEGER NOT NULL,\n"
    "  PRIMARY KEY (patient_id, code)\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE obs(\n"
    "  patient_id INTEGER NOT NULL,\n"
    "  code INTEGER NOT NULL,\n"
    "  effective_us INTEGER NOT NULL,\n"
    "  device_id INTEGER NOT NULL,\n"
    "  value REAL NOT NULL,\n"
    "  received_us INTEGER NOT NULL,\n"
    "  status INTEGER NOT NULL,\n"
    "  PRIMARY KEY (patient_id, effective_us, code, device_id)\n"
    ") WITHOUT ROWID;\n";

/* Presence reported by the MQTT gateway (0 = never / unknown, as last_seen_us). Adding
 * NOT NULL columns with a constant default rewrites no rows in SQLite. */
static const char schema_v2[] =
    "ALTER TABLE devices ADD COLUMN connected_us INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE devices ADD COLUMN disconnected_us INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE devices ADD COLUMN rssi_dbm INTEGER NOT NULL DEFAULT 0;\n";

/* Device events (pill taken, button, fall, connection lost) and commands to devices.
 * events: keyed like obs by source and time, so a redelivered message stores nothing twice;
 * flag is NULL when the event carried text. commands: the durable queue `medhub device send`
 * writes and the MQTT gateway delivers; state is enum store_cmd_state (store.h). */
static const char schema_v3[] = "CREATE TABLE events(\n"
                                "  device_id INTEGER NOT NULL,\n"
                                "  type INTEGER NOT NULL,\n"
                                "  time_us INTEGER NOT NULL,\n"
                                "  patient_id INTEGER NOT NULL,\n"
                                "  flag INTEGER,\n"
                                "  text TEXT,\n"
                                "  received_us INTEGER NOT NULL,\n"
                                "  PRIMARY KEY (device_id, type, time_us)\n"
                                ") WITHOUT ROWID;\n"
                                "CREATE INDEX events_patient ON events(patient_id, time_us);\n"
                                "CREATE TABLE commands(\n"
                                "  id INTEGER PRIMARY KEY,\n"
                                "  device_id INTEGER NOT NULL REFERENCES devices(id),\n"
                                "  payload BLOB NOT NULL,\n"
                                "  qos INTEGER NOT NULL CHECK (qos BETWEEN 0 AND 2),\n"
                                "  retain INTEGER NOT NULL DEFAULT 0,\n"
                                "  created_us INTEGER NOT NULL,\n"
                                "  expires_us INTEGER NOT NULL,\n"
                                "  state INTEGER NOT NULL DEFAULT 0,\n"
                                "  updated_us INTEGER NOT NULL\n"
                                ");\n"
                                "CREATE INDEX commands_device ON commands(device_id, id);\n";

/* Clinical rules and alerts (issue "rules"): settings (protocols, per-patient and per-kind
 * overrides), alert episodes with every transition, actions queued by the CLI for the
 * daemon (ack, resolve), and webhooks with their durable delivery queue.
 *   rule_settings: scope 'global' | 'patient' | 'kind', scope_id the patient id or kind
 *     name ('' for global), key e.g. 'protocol', 'spo2_scale', 'hr.high', value text.
 *   alerts: one row per episode; state 0 raised, 1 acknowledged, 2 resolved; severity 1 info
 *     .. 5 critical; class 0 physiological, 1 technical; rule is the rule key.
 *   alert_events: who did what when (raised, updated, escalated, acknowledged, resolved).
 *   alert_actions: written by `medhub alert ack|resolve`, applied by the daemon.
 *   webhook_deliveries: one row per (webhook, notification); attempts counted, state 0
 *     pending, 1 delivered, 2 dead (the dead-letter list). */
static const char schema_v4[] =
    "INSERT INTO obs_codes(id, loinc, ucum) VALUES (21, '67775-7', '{ACVPU}'),"
    " (22, '3151-8', 'L/min');\n"
    "CREATE TABLE rule_settings(\n"
    "  scope TEXT NOT NULL,\n"
    "  scope_id TEXT NOT NULL,\n"
    "  key TEXT NOT NULL,\n"
    "  value TEXT NOT NULL,\n"
    "  updated_us INTEGER NOT NULL,\n"
    "  updated_by TEXT NOT NULL DEFAULT '',\n"
    "  PRIMARY KEY (scope, scope_id, key)\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE alerts(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  patient_id INTEGER NOT NULL,\n"
    "  device_id INTEGER NOT NULL DEFAULT 0,\n"
    "  rule TEXT NOT NULL,\n"
    "  class INTEGER NOT NULL,\n"
    "  severity INTEGER NOT NULL,\n"
    "  state INTEGER NOT NULL,\n"
    "  code INTEGER NOT NULL DEFAULT 0,\n"
    "  title TEXT NOT NULL,\n"
    "  detail TEXT NOT NULL DEFAULT '',\n"
    "  first_value REAL,\n"
    "  worst_value REAL,\n"
    "  current_value REAL,\n"
    "  count INTEGER NOT NULL DEFAULT 1,\n"
    "  raised_us INTEGER NOT NULL,\n"
    "  updated_us INTEGER NOT NULL,\n"
    "  acked_us INTEGER NOT NULL DEFAULT 0,\n"
    "  acked_by TEXT NOT NULL DEFAULT '',\n"
    "  resolved_us INTEGER NOT NULL DEFAULT 0,\n"
    "  resolved_by TEXT NOT NULL DEFAULT '',\n"
    "  note TEXT NOT NULL DEFAULT '',\n"
    "  tier INTEGER NOT NULL DEFAULT 0,\n"
    "  next_escalation_us INTEGER NOT NULL DEFAULT 0\n"
    ");\n"
    "CREATE INDEX alerts_state ON alerts(state, patient_id);\n"
    "CREATE INDEX alerts_patient ON alerts(patient_id, raised_us);\n"
    "CREATE TABLE alert_events(\n"
    "  alert_id INTEGER NOT NULL,\n"
    "  at_us INTEGER NOT NULL,\n"
    "  kind TEXT NOT NULL,\n"
    "  who TEXT NOT NULL DEFAULT '',\n"
    "  severity INTEGER NOT NULL,\n"
    "  detail TEXT NOT NULL DEFAULT ''\n"
    ");\n"
    "CREATE INDEX alert_events_alert ON alert_events(alert_id, at_us);\n"
    "CREATE TABLE alert_actions(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  alert_id INTEGER NOT NULL,\n"
    "  action INTEGER NOT NULL,\n"
    "  who TEXT NOT NULL,\n"
    "  note TEXT NOT NULL DEFAULT '',\n"
    "  created_us INTEGER NOT NULL,\n"
    "  applied_us INTEGER NOT NULL DEFAULT 0,\n"
    "  result INTEGER NOT NULL DEFAULT 0\n"
    ");\n"
    "CREATE TABLE webhooks(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  name TEXT NOT NULL UNIQUE,\n"
    "  url TEXT NOT NULL,\n"
    "  secret TEXT NOT NULL,\n"
    "  min_severity INTEGER NOT NULL DEFAULT 1,\n"
    "  enabled INTEGER NOT NULL DEFAULT 1,\n"
    "  created_us INTEGER NOT NULL\n"
    ");\n"
    "CREATE TABLE webhook_deliveries(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  webhook_id INTEGER NOT NULL,\n"
    "  event TEXT NOT NULL,\n"
    "  alert_id INTEGER NOT NULL DEFAULT 0,\n"
    "  payload TEXT NOT NULL,\n"
    "  state INTEGER NOT NULL DEFAULT 0,\n"
    "  attempts INTEGER NOT NULL DEFAULT 0,\n"
    "  next_attempt_us INTEGER NOT NULL,\n"
    "  expires_us INTEGER NOT NULL,\n"
    "  last_error TEXT NOT NULL DEFAULT '',\n"
    "  created_us INTEGER NOT NULL,\n"
    "  updated_us INTEGER NOT NULL\n"
    ");\n"
    "CREATE INDEX webhook_deliveries_state ON webhook_deliveries(state, next_attempt_us);\n";

/* Users, authentication and access (docs/security.md is the contract).
 *   users: one row per person. role is the rbac role name ('admin', 'clinician', ...);
 *     password_hash the Argon2id PHC string ('' = no password: cannot log in);
 *     mfa_secret / mfa_pending the TOTP secret encrypted with AES-256-GCM under a key derived
 *     from server.key ('' = none); mfa_last_step the last TOTP time step accepted (a code for
 *     a step <= it is a replay); patient_id links a patient user to their record (0 = none).
 *   user_wards / user_patients: the care-team scope of clinicians and nurses (wards) and
 *     their caseload of named patients (home monitoring).
 *   recovery_codes: keyed hashes of one-time MFA recovery codes; used_us 0 = unused.
 *   sessions: token_hash is HMAC-SHA-256(server.key, token); the token itself is never
 *     stored. expires_us is the absolute limit; idle expiry is last_seen_us + auth.idle.
 *   login_tickets: password accepted, second factor (or MFA enrolment) pending; kind 1 =
 *     TOTP or recovery code expected, 2 = MFA enrolment required.
 *   api_tokens: bearer tokens for systems; ward '' = every ward; scopes '' = the role's
 *     permissions; expires_us 0 = never; revoked_us 0 = live.
 *   login_throttle: failure counters per 'user:NAME' and 'addr:IP' (unknown names too).
 *   break_glass: emergency access grants (who, which patient, why, until when). */
static const char schema_v5[] =
    "CREATE TABLE users(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  name TEXT NOT NULL UNIQUE,\n"
    "  role TEXT NOT NULL,\n"
    "  display_name TEXT NOT NULL DEFAULT '',\n"
    "  password_hash TEXT NOT NULL DEFAULT '',\n"
    "  must_change_password INTEGER NOT NULL DEFAULT 0,\n"
    "  mfa_secret TEXT NOT NULL DEFAULT '',\n"
    "  mfa_pending TEXT NOT NULL DEFAULT '',\n"
    "  mfa_enrolled INTEGER NOT NULL DEFAULT 0,\n"
    "  mfa_last_step INTEGER NOT NULL DEFAULT 0,\n"
    "  patient_id INTEGER NOT NULL DEFAULT 0,\n"
    "  disabled INTEGER NOT NULL DEFAULT 0,\n"
    "  last_login_us INTEGER NOT NULL DEFAULT 0,\n"
    "  created_us INTEGER NOT NULL,\n"
    "  updated_us INTEGER NOT NULL\n"
    ");\n"
    "CREATE TABLE user_wards(\n"
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,\n"
    "  ward TEXT NOT NULL,\n"
    "  PRIMARY KEY (user_id, ward)\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE user_patients(\n"
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,\n"
    "  patient_id INTEGER NOT NULL REFERENCES patients(id),\n"
    "  PRIMARY KEY (user_id, patient_id)\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE recovery_codes(\n"
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,\n"
    "  code_hash TEXT NOT NULL,\n"
    "  used_us INTEGER NOT NULL DEFAULT 0,\n"
    "  PRIMARY KEY (user_id, code_hash)\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE sessions(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  token_hash TEXT NOT NULL UNIQUE,\n"
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,\n"
    "  created_us INTEGER NOT NULL,\n"
    "  last_seen_us INTEGER NOT NULL,\n"
    "  expires_us INTEGER NOT NULL,\n"
    "  address TEXT NOT NULL DEFAULT '',\n"
    "  user_agent TEXT NOT NULL DEFAULT ''\n"
    ");\n"
    "CREATE INDEX sessions_user ON sessions(user_id);\n"
    "CREATE TABLE login_tickets(\n"
    "  token_hash TEXT PRIMARY KEY,\n"
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,\n"
    "  kind INTEGER NOT NULL,\n"
    "  created_us INTEGER NOT NULL,\n"
    "  expires_us INTEGER NOT NULL,\n"
    "  attempts INTEGER NOT NULL DEFAULT 0,\n"
    "  address TEXT NOT NULL DEFAULT ''\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE api_tokens(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  name TEXT NOT NULL UNIQUE,\n"
    "  token_hash TEXT NOT NULL UNIQUE,\n"
    "  role TEXT NOT NULL,\n"
    "  ward TEXT NOT NULL DEFAULT '',\n"
    "  scopes TEXT NOT NULL DEFAULT '',\n"
    "  expires_us INTEGER NOT NULL DEFAULT 0,\n"
    "  created_us INTEGER NOT NULL,\n"
    "  last_used_us INTEGER NOT NULL DEFAULT 0,\n"
    "  revoked_us INTEGER NOT NULL DEFAULT 0\n"
    ");\n"
    "CREATE TABLE login_throttle(\n"
    "  key TEXT PRIMARY KEY,\n"
    "  failures INTEGER NOT NULL,\n"
    "  last_failure_us INTEGER NOT NULL,\n"
    "  next_allowed_us INTEGER NOT NULL,\n"
    "  locked_until_us INTEGER NOT NULL DEFAULT 0\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE break_glass(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  user_id INTEGER NOT NULL REFERENCES users(id),\n"
    "  patient_id INTEGER NOT NULL REFERENCES patients(id),\n"
    "  reason TEXT NOT NULL CHECK (length(reason) > 0),\n"
    "  granted_us INTEGER NOT NULL,\n"
    "  expires_us INTEGER NOT NULL\n"
    ");\n"
    "CREATE INDEX break_glass_user ON break_glass(user_id, patient_id, expires_us);\n";
/*
 * The tamper-evident audit trail (HIPAA 164.312(b); docs/audit.md). One row per event,
 * appended by security/audit.c inside the transaction of the change it records.
 *   seq: 1, 2, 3, ... without gaps; the chain's order (explicit, never AUTOINCREMENT).
 *   hash: SHA-256 (hex) over the canonical serialization of every other column, prev_hash
 *     included; prev_hash is the previous row's hash, 64 zeros for seq 1.
 *   patient_id: NULL when the entry concerns no patient (index audit_patient: per-patient
 *     reports in seq order, no sort).
 *   actor_kind, outcome: text (user/token/device/system/cli; success/denied/failure), checked
 *     by the C code rather than CHECK constraints a new kind would need a table rebuild for.
 * STRICT: every column keeps its declared type. The triggers make the table append-only for
 * every connection (RAISE(ABORT) maps to HX_EDENIED) and refuse an insert that does not
 * continue the chain; someone with the file and the sqlite3 tool can drop them, which is
 * what `medhub audit verify` and the checkpoints kept off the machine are for.
 */
static const char schema_v6[] =
    "CREATE TABLE audit(\n"
    "  seq INTEGER PRIMARY KEY,\n"
    "  time_us INTEGER NOT NULL,\n"
    "  actor_kind TEXT NOT NULL,\n"
    "  actor_id INTEGER NOT NULL DEFAULT 0,\n"
    "  actor TEXT NOT NULL,\n"
    "  action TEXT NOT NULL,\n"
    "  outcome TEXT NOT NULL,\n"
    "  patient_id INTEGER,\n"
    "  object_type TEXT NOT NULL DEFAULT '',\n"
    "  object_id TEXT NOT NULL DEFAULT '',\n"
    "  source TEXT NOT NULL DEFAULT '',\n"
    "  details TEXT NOT NULL DEFAULT '{}',\n"
    "  break_glass INTEGER NOT NULL DEFAULT 0,\n"
    "  prev_hash TEXT NOT NULL,\n"
    "  hash TEXT NOT NULL\n"
    ") STRICT;\n"
    "CREATE INDEX audit_patient ON audit(patient_id, seq) WHERE patient_id IS NOT NULL;\n"
    "CREATE INDEX audit_action ON audit(action, seq);\n"
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit\n"
    "BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;\n"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit\n"
    "BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;\n"
    "CREATE TRIGGER audit_chain BEFORE INSERT ON audit\n"
    "WHEN NEW.seq IS NOT (SELECT coalesce(max(seq), 0) + 1 FROM audit)\n"
    "  OR NEW.prev_hash IS NOT coalesce((SELECT hash FROM audit ORDER BY seq DESC LIMIT 1),\n"
    "                                   printf('%064d', 0))\n"
    "BEGIN SELECT RAISE(ABORT, 'audit entry does not continue the chain'); END;\n";

const struct store_migration store_sqlite_migrations[] = {
    {1, "initial schema: patients, devices, assignments, obs_codes, obs, obs_latest", schema_v1},
    {2, "device presence: connected_us, disconnected_us, rssi_dbm", schema_v2},
    {3, "device events and the command queue", schema_v3},
    {4, "rules and alerts: settings, alerts, transitions, actions, webhooks", schema_v4},
    {5, "users, sessions, MFA, API tokens, login throttling, break-glass", schema_v5},
    {6, "audit trail: hash-chained, append-only audit entries", schema_v6},
};

const size_t store_sqlite_n_migrations =
    sizeof(store_sqlite_migrations) / sizeof(store_sqlite_migrations[0]);

_Static_assert(sizeof(store_sqlite_migrations) / sizeof(store_sqlite_migrations[0]) ==
                   STORE_SCHEMA_VERSION,
               "one migration per schema version");
