/*
 * The CapabilityStatement (GET [base]/metadata): FHIR 4.0.1, JSON, a read-only server with
 * read and search-type on Patient, Device, Observation and Flag and the search parameters
 * search.c accepts. Keep this table and search.c's in step (test_fhir checks every listed
 * parameter parses).
 * Layer: fhir (pure). Thread: any.
 */
#include "core/hxtime.h"
#include "fhir/fhir_int.h"

#include <string.h>

struct sp {
    const char *name;
    const char *type; /* SearchParamType */
    const char *doc;
};

struct res {
    enum fhir_type type;
    const char *profile; /* supported profile, or NULL */
    const struct sp *params;
    size_t n;
};

#define SPDEF "http://hl7.org/fhir/SearchParameter/"

static const struct sp patient_sp[] = {
    {"_id", "token", "Patient id (comma = OR)"},
    {"identifier", "token", "MRN: [" FHIR_SYSTEM_MRN "|]value (comma = OR)"},
    {"name", "string",
     "Start of the name or of one of its words, case-insensitive; "
     ":contains anywhere; :exact the whole name"},
    {"birthdate", "date", "Birth date with prefixes eq ne gt lt ge le sa eb (repeat = AND)"},
};

static const struct sp device_sp[] = {
    {"_id", "token", "Device id (comma = OR)"},
    {"identifier", "token", "Device id as enrolled: [" FHIR_SYSTEM_DEVICE_ID "|]value"},
    {"patient", "reference", "The patient the device is assigned to now"},
};

static const struct sp obs_sp[] = {
    {"_id", "token", "Observation id (one)"},
    {"patient", "reference", "Required (or subject or _id): Patient/[id] or [id]"},
    {"subject", "reference", "As patient"},
    {"code", "token",
     "[system|]code, LOINC or MDC (comma = OR); 85354-9 = blood pressure "
     "panels"},
    {"category", "token", "vital-signs, laboratory, activity, exam, therapy"},
    {"date", "date", "effectiveDateTime with prefixes (repeat = AND)"},
    {"_lastUpdated", "date", "When medhub received it, with prefixes"},
    {"device", "reference", "Device/[id] or [id]"},
};

static const struct sp flag_sp[] = {
    {"_id", "token", "Alert id (comma = OR)"},
    {"patient", "reference", "Patient/[id] or [id]"},
    {"subject", "reference", "As patient"},
    {"status", "token", "active (raised or acknowledged) or inactive (resolved)"},
};

static const struct res resources[] = {
    {FHIR_PATIENT, NULL, patient_sp, sizeof(patient_sp) / sizeof(patient_sp[0])},
    {FHIR_DEVICE, NULL, device_sp, sizeof(device_sp) / sizeof(device_sp[0])},
    {FHIR_OBSERVATION, "http://hl7.org/fhir/StructureDefinition/vitalsigns", obs_sp,
     sizeof(obs_sp) / sizeof(obs_sp[0])},
    {FHIR_FLAG, NULL, flag_sp, sizeof(flag_sp) / sizeof(flag_sp[0])},
};

/* Names listed for a type, NULL-terminated (for the tests). */
const char *fhir__capability_param(enum fhir_type t, size_t i);
const char *fhir__capability_param(enum fhir_type t, size_t i)
{
    for (size_t r = 0; r < sizeof(resources) / sizeof(resources[0]); r++)
        if (resources[r].type == t)
            return i < resources[r].n ? resources[r].params[i].name : NULL;
    return NULL;
}

static json_t *resource_json(const struct res *r)
{
    json_t *params = json_array();
    const char *tn = fhir_type_name(r->type);
    for (size_t i = 0; params && i < r->n; i++) {
        char def[128];
        const char *name = r->params[i].name;
        snprintf(def, sizeof(def), SPDEF "%s-%s", name[0] == '_' ? "Resource" : tn,
                 name[0] == '_' ? name + 1 : name);
        json_array_append_new(params, json_pack("{s:s, s:s, s:s, s:s}", "name", name, "definition",
                                                def, "type", r->params[i].type, "documentation",
                                                r->params[i].doc));
    }
    json_t *j =
        json_pack("{s:s, s:s*, s:[{s:s}, {s:s}], s:s, s:b, s:b, s:o}", "type", tn, "profile",
                  r->profile, "interaction", "code", "read", "code", "search-type", "versioning",
                  "no-version", "readHistory", 0, "updateCreate", 0, "searchParam", params);
    return j;
}

json_t *fhir_capability(const char *base_url)
{
    json_t *res = json_array();
    for (size_t i = 0; res && i < sizeof(resources) / sizeof(resources[0]); i++)
        json_array_append_new(res, resource_json(&resources[i]));
    char now[40];
    fhir__time(hx_time_now_us(), now);
    const char *security =
        "HTTPS. Every request needs a session or an API token (Authorization: Bearer); "
        "results are limited to the caller's care scope (all patients, the patients of the "
        "caller's wards, or the caller's own record); out-of-scope resources read as not "
        "found. Access is audited.";
    const char *paging =
        "Searches are paged with an opaque _cursor (follow Bundle.link next); _count sets the "
        "page size (default 50, at most 1000). Unknown parameters are refused (400) unless "
        "the request says Prefer: handling=lenient.";
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s}, s:s, s:[s, s],"
        " s:[{s:s, s:s, s:{s:b, s:s}, s:o}]}",
        "resourceType", "CapabilityStatement", "status", "active", "date", now, "publisher",
        "medhub", "kind", "instance", "description",
        "medhub FHIR R4 read API: patients, devices, vital signs and other observations, "
        "alerts as Flags",
        "software", "name", "medhub", "version", MEDHUB_VERSION, "implementation", "description",
        "medhub FHIR R4 API", "url", base_url, "fhirVersion", FHIR_VERSION, "format",
        "application/fhir+json", "json", "rest", "mode", "server", "documentation", paging,
        "security", "cors", 0, "description", security, "resource", res);
}
