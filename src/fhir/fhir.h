/*
 * FHIR R4 read API without sockets: resource mapping (Patient, Device, Observation following
 * the vital-signs profile, Flag for alerts), search-parameter parsing, searchset Bundles with
 * keyset paging, OperationOutcome and the CapabilityStatement. The HTTP layer parses the
 * request line and query string, then calls fhir_search / fhir_read / fhir_capability on a
 * worker thread with that worker's own store connection, and sends back the JSON body with
 * the status these functions set (Content-Type application/fhir+json). docs/fhir.md is the
 * integrator's description of what is served.
 *
 * Thread: any; every function here is re-entrant (no globals). The ones that take a store use
 * it from the calling thread only (one store connection per worker thread).
 */
#ifndef MEDHUB_FHIR_FHIR_H
#define MEDHUB_FHIR_FHIR_H

#include "domain/alert.h"
#include "domain/model.h"
#include "store/store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* FHIR version served (CapabilityStatement.fhirVersion). */
#define FHIR_VERSION "4.0.1"
/* Media type of every body these functions produce. */
#define FHIR_MEDIA_TYPE "application/fhir+json; fhirVersion=4.0"

/* Identifier and code systems medhub defines (docs/fhir.md "Identifiers"). */
#define FHIR_SYSTEM_MRN         "urn:medhub:mrn"         /* Patient.identifier: the MRN */
#define FHIR_SYSTEM_DEVICE_ID   "urn:medhub:device-id"   /* Device.identifier: the device id */
#define FHIR_SYSTEM_DEVICE_KIND "urn:medhub:device-kind" /* Device.type: dev_kind_names */
#define FHIR_SYSTEM_ALERT_RULE  "urn:medhub:alert-rule"  /* Flag.code: the rule key */
/* External systems. */
#define FHIR_SYSTEM_LOINC        "http://loinc.org"
#define FHIR_SYSTEM_UCUM         "http://unitsofmeasure.org"
#define FHIR_SYSTEM_MDC          "urn:iso:std:iso:11073:10101"
#define FHIR_SYSTEM_OBS_CATEGORY "http://terminology.hl7.org/CodeSystem/observation-category"

/* Resource types served. */
enum fhir_type {
    FHIR_PATIENT = 0,
    FHIR_DEVICE = 1,
    FHIR_OBSERVATION = 2,
    FHIR_FLAG = 3,
};
#define FHIR_TYPE__COUNT 4

/* "Patient", "Device", "Observation", "Flag"; "?" for another value. */
const char *fhir_type_name(enum fhir_type t);
/* Exact, case-sensitive inverse of fhir_type_name over a path segment (not NUL-terminated).
 * OUT: *out. Returns 0 or HX_ENOTFOUND (not a type medhub serves: answer 404, see
 * fhir_outcome_unknown_type). */
int fhir_type_parse(const char *name, size_t len, enum fhir_type *out);

/* One query parameter, already percent-decoded (and '+' turned into a space) by the HTTP
 * layer's query parser. Borrowed: valid for the duration of the call it is passed to;
 * neither string is NUL-terminated. name includes any modifier ("name:contains"). */
struct fhir_param {
    const char *name;  /* parameter name */
    size_t name_len;   /* its length */
    const char *value; /* parameter value ("" for "?x=" or "?x") */
    size_t value_len;  /* its length */
};

/* The caller's care scope: which patients' data a request may see. The HTTP layer derives it
 * from the authenticated principal (auth module): administrators and integrations ALL,
 * clinicians the WARDS of their care team, a patient in the portal PATIENT (own id). */
struct fhir_scope {
    enum store_scope_kind kind; /* STORE_SCOPE_ALL, _WARDS or _PATIENT */
    const char *const *wards;   /* WARDS: ward names, n_wards of them (borrowed) */
    size_t n_wards;             /* WARDS: 0..STORE_SCOPE_WARDS_MAX (0 sees nobody) */
    int64_t patient_id;         /* PATIENT: the patient's internal id (Patient.id) */
};

enum fhir_request_flags {
    /* Prefer: handling=lenient: unknown or unsupported parameters are ignored (reported in
     * an OperationOutcome entry with search.mode "outcome" and left out of the self link)
     * instead of failing the search with 400. Invalid values still fail. */
    FHIR_LENIENT = 1u << 0,
};

/* What every call needs from the HTTP request. Borrowed for the call. */
struct fhir_request {
    const char *base_url;           /* service base for fullUrl and links, no trailing slash:
                                     * "https://host:8443/fhir" */
    const struct fhir_scope *scope; /* required */
    unsigned flags;                 /* enum fhir_request_flags */
};

/*
 * GET [base]/{type}?params: runs a search and builds the searchset Bundle (status 200), or an
 * OperationOutcome: 400 for an unknown parameter or a bad value (code invalid /
 * not-supported), 406 for a _format other than JSON, 500/503 for a store failure.
 * params: n_params name/value pairs in request order (borrowed for the call); repeated names
 * are allowed where FHIR allows them (date, _lastUpdated, code...).
 * OUT: *out_body returns owned (json_decref), ALWAYS set, also on failure (NULL only when
 * memory ran out: answer 500 with no body); *http_status ALWAYS set.
 * Returns 0, or the medhub error behind a 4xx/5xx (HX_EINVAL, HX_EBUSY, ...) for logs and
 * metrics: the body and status are what to send either way.
 * Thread: a worker, with its own store connection; never the loop thread (it reads the disk).
 */
int fhir_search(struct store *st, const struct fhir_request *rq, enum fhir_type type,
                const struct fhir_param *params, size_t n_params, json_t **out_body,
                int *http_status);

/*
 * GET [base]/{type}/{id}: the resource (200) or an OperationOutcome (404 not-found when there
 * is no such resource in the caller's scope: out-of-scope and missing look the same; 500/503
 * on a store failure). id is the path segment, not NUL-terminated. A systolic or diastolic
 * reading that is part of a blood-pressure panel is not a resource of its own: its id answers
 * 404 naming the panel (docs/fhir.md "Blood pressure"). Out-parameters and return as
 * fhir_search. Thread: a worker.
 */
int fhir_read(struct store *st, const struct fhir_request *rq, enum fhir_type type, const char *id,
              size_t id_len, json_t **out_body, int *http_status);

/* GET [base]/metadata: the CapabilityStatement (status 200, no store and no scope needed;
 * the HTTP layer may build it once and keep it). Returns owned JSON, NULL only on OOM.
 * Thread: any. */
json_t *fhir_capability(const char *base_url);

/* An OperationOutcome with one issue. severity: "fatal" | "error" | "warning" |
 * "information"; code: an IssueType ("invalid", "not-found", "forbidden", "processing",
 * "not-supported", "too-costly", "exception", "transient", "security", "login", ...);
 * diagnostics: text for the developer (may be NULL). Returns owned JSON, NULL only on OOM.
 * For the HTTP layer's own errors too (401 login, 403 forbidden, 405, 415...). */
json_t *fhir_outcome_new(const char *severity, const char *code, const char *diagnostics);

/* The OperationOutcome and status for a medhub error code met outside a search (the HTTP
 * layer's: HX_EDENIED -> 403 forbidden, HX_ENOTFOUND -> 404 not-found, HX_EINVAL /
 * HX_EMALFORMED -> 400 invalid, HX_ETOOBIG -> 413 too-costly, HX_EBUSY -> 503 transient,
 * anything else -> 500 exception). THE mapping of medhub errors to FHIR (STYLE.md 3).
 * OUT: *http_status. Returns owned JSON, NULL only on OOM. */
json_t *fhir_outcome_from_err(int err, const char *diagnostics, int *http_status);

/* 404 for a path naming a resource type medhub does not serve (/fhir/Encounter). */
json_t *fhir_outcome_unknown_type(const char *name, size_t len);

/* Serialises a body as the HTTP layer should send it: compact, keys in insertion order,
 * decimals with up to 15 significant digits (72.0, 36.6, not 36.600000000000001).
 * Returns owned NUL-terminated text (free()), NULL on OOM. */
char *fhir_dumps(const json_t *body);

/* ---- Resource mapping (pure; also for exports) ------------------------------------------ */

/* Each returns a new resource (owned), NULL only on OOM. Records are borrowed for the call. */
json_t *fhir_patient_to_json(const struct patient *p);
/* patient_id: the patient the device is assigned to now, 0 when none. */
json_t *fhir_device_to_json(const struct device *d, int64_t patient_id);
/* One reading (vital-signs profile when its code is a vital sign). */
json_t *fhir_obs_to_json(const struct obs *o);
/* A blood-pressure panel (85354-9) from a systolic and a diastolic reading taken together
 * (same patient, device and effective time). */
json_t *fhir_bp_panel_to_json(const struct obs *sys, const struct obs *dia);
/* An alert as a Flag; alerts without a patient have no Flag (returns NULL: check a->patient_id
 * first). */
json_t *fhir_flag_to_json(const struct alert *a);

/* Resource ids (docs/fhir.md "Resource ids"). An Observation's id is its primary key:
 * "<patient>.<code>.<effective_us>.<device>" with decimal numbers, or
 * "<patient>.bp.<effective_us>.<device>" for a blood-pressure panel; at most 64 characters.
 * buf needs FHIR_ID_MAX + 1 bytes. */
#define FHIR_ID_MAX 64
void fhir_obs_id(const struct obs *o, bool is_panel, char buf[FHIR_ID_MAX + 1]);

#endif
