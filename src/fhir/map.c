/*
 * medhub records -> FHIR R4 resources (JSON, jansson): Patient, Device, Observation following
 * the vital-signs profile (one reading, or a blood-pressure panel of a systolic and a
 * diastolic reading), Flag for an alert; OperationOutcome; resource ids and times; the
 * mapping of medhub errors to HTTP status and FHIR issue codes. docs/fhir.md has the tables.
 * Layer: fhir (pure: no I/O). Thread: any.
 */
#include "core/err.h"
#include "core/hxtime.h"
#include "core/mem.h"
#include "domain/codes.h"
#include "fhir/fhir_int.h"

#include <stdio.h>
#include <string.h>

#define SD "http://hl7.org/fhir/StructureDefinition/"

const char *fhir_type_name(enum fhir_type t)
{
    static const char *const names[FHIR_TYPE__COUNT] = {"Patient", "Device", "Observation", "Flag"};
    return (unsigned)t < FHIR_TYPE__COUNT ? names[t] : "?";
}

int fhir_type_parse(const char *name, size_t len, enum fhir_type *out)
{
    for (int t = 0; t < FHIR_TYPE__COUNT; t++) {
        const char *n = fhir_type_name((enum fhir_type)t);
        if (strlen(n) == len && memcmp(n, name, len) == 0) {
            *out = (enum fhir_type)t;
            return 0;
        }
    }
    return HX_ENOTFOUND;
}

void fhir__time(int64_t t_us, char buf[40])
{
    hx_time_format_rfc3339(t_us, buf, 40);
    /* "....:ssZ" instead of "....:ss.000000Z" when the microseconds are zero. */
    char *dot = strchr(buf, '.');
    if (dot && strcmp(dot, ".000000Z") == 0)
        memcpy(dot, "Z", 2);
}

static json_t *time_json(int64_t t_us)
{
    char buf[40];
    fhir__time(t_us, buf);
    return json_string(buf);
}

static json_t *coding(const char *system, const char *code, const char *display)
{
    return json_pack("{s:s, s:s, s:s*}", "system", system, "code", code, "display", display);
}

static json_t *reference(const char *type, int64_t id)
{
    char ref[48];
    snprintf(ref, sizeof(ref), "%s/%lld", type, (long long)id);
    return json_pack("{s:s}", "reference", ref);
}

static json_t *meta(int64_t last_updated_us, json_t *profiles)
{
    return json_pack("{s:o, s:o*}", "lastUpdated", time_json(last_updated_us), "profile", profiles);
}

static char *id_text(int64_t id)
{
    return hx_xasprintf("%lld", (long long)id);
}

/* Sets key to value (stolen) unless value is NULL; false when it was NULL (OOM). */
static bool set(json_t *obj, const char *key, json_t *value)
{
    return value && json_object_set_new(obj, key, value) == 0;
}

/* ---- Patient ----------------------------------------------------------------------------- */

json_t *fhir_patient_to_json(const struct patient *p)
{
    char *id = id_text(p->id);
    json_t *mr_type = json_pack(
        "{s:[o]}", "coding",
        coding("http://terminology.hl7.org/CodeSystem/v2-0203", "MR", "Medical record number"));
    json_t *r =
        json_pack("{s:s, s:s, s:o, s:[{s:s, s:o, s:s, s:s}], s:b}", "resourceType", "Patient", "id",
                  id, "meta", meta(p->created_us, NULL), "identifier", "use", "usual", "type",
                  mr_type, "system", FHIR_SYSTEM_MRN, "value", p->mrn, "active", 1);
    free(id);
    if (!r)
        return NULL;
    bool ok = true;
    if (p->name[0])
        ok &= set(r, "name", json_pack("[{s:s, s:s}]", "use", "official", "text", p->name));
    if (p->birth_date[0])
        ok &= set(r, "birthDate", json_string(p->birth_date));
    if (!ok) {
        json_decref(r);
        return NULL;
    }
    return r;
}

/* ---- Device ------------------------------------------------------------------------------ */

json_t *fhir_device_to_json(const struct device *d, int64_t patient_id)
{
    char *id = id_text(d->id);
    /* FHIR R4 Device.status: active | inactive | entered-in-error | unknown. A disabled or
     * quarantined device may not connect: inactive. */
    const char *status = d->status == DEV_STATUS_ACTIVE ? "active" : "inactive";
    json_t *r = json_pack("{s:s, s:s, s:[{s:s, s:s}], s:s, s:{s:[o], s:s}}", "resourceType",
                          "Device", "id", id, "identifier", "system", FHIR_SYSTEM_DEVICE_ID,
                          "value", d->uid, "status", status, "type", "coding",
                          coding(FHIR_SYSTEM_DEVICE_KIND, d->kind, NULL), "text", d->kind);
    free(id);
    if (!r)
        return NULL;
    bool ok = true;
    if (d->status == DEV_STATUS_QUARANTINED)
        ok &= set(r, "statusReason", json_pack("[{s:s}]", "text", "quarantined"));
    if (d->model[0])
        ok &= set(r, "modelNumber", json_string(d->model));
    if (d->firmware[0])
        ok &= set(r, "version",
                  json_pack("[{s:{s:s}, s:s}]", "type", "text", "firmware", "value", d->firmware));
    if (patient_id > 0)
        ok &= set(r, "patient", reference("Patient", patient_id));
    if (!ok) {
        json_decref(r);
        return NULL;
    }
    return r;
}

/* ---- Observation ------------------------------------------------------------------------- */

/* FHIR observation-category of each code (docs/fhir.md "Categories"). */
const char *fhir__obs_category(int code);
const char *fhir__obs_category(int code)
{
    const struct obs_code *c = obs_code_get(code);
    if (!c)
        return NULL;
    if (c->is_vital_sign)
        return "vital-signs";
    switch (code) {
    case OBS_CODE_GLUCOSE:
    case OBS_CODE_GLUCOSE_MOLAR:
    case OBS_CODE_GLUCOSE_CGM:
    case OBS_CODE_GLUCOSE_CGM_MOLAR:
        return "laboratory"; /* as the HL7 CGM IG */
    case OBS_CODE_STEPS:
    case OBS_CODE_SLEEP:
    case OBS_CODE_HEART_RATE_RESTING:
        return "activity"; /* as the HL7 Physical Activity IG */
    case OBS_CODE_O2_FLOW:
        return "therapy"; /* supplemental oxygen is treatment, not a measurement of the body */
    default:
        return "exam"; /* ACVPU, perfusion index: bedside assessments */
    }
}

static const char *category_display(const char *cat)
{
    static const char *const pairs[][2] = {
        {"vital-signs", "Vital Signs"},
        {"laboratory", "Laboratory"},
        {"activity", "Activity"},
        {"therapy", "Therapy"},
        {"exam", "Exam"},
    };
    for (size_t i = 0; i < HX_ARRAY_LEN(pairs); i++)
        if (strcmp(pairs[i][0], cat) == 0)
            return pairs[i][1];
    return NULL;
}

/* The specific vital-signs profile of a code (FHIR R4 observation-vitalsigns), or NULL. */
static const char *vital_profile(const struct obs_code *c)
{
    static const char *const map[][2] = {
        {"8867-4", SD "heartrate"}, {"9279-1", SD "resprate"},    {"2708-6", SD "oxygensat"},
        {"8310-5", SD "bodytemp"},  {"29463-7", SD "bodyweight"}, {"8302-2", SD "bodyheight"},
        {"39156-5", SD "bmi"},
    };
    for (size_t i = 0; i < HX_ARRAY_LEN(map); i++)
        if (strcmp(c->loinc, map[i][0]) == 0 ||
            (c->loinc_also && strcmp(c->loinc_also, map[i][0]) == 0))
            return map[i][1];
    return NULL;
}

/* Observation.code: the LOINC coding, the extra LOINC coding FHIR expects, the MDC coding. */
static json_t *obs_code_json(const struct obs_code *c)
{
    json_t *codings = json_array();
    if (!codings)
        return NULL;
    json_array_append_new(codings, coding(FHIR_SYSTEM_LOINC, c->loinc, c->display));
    if (c->loinc_also) {
        const struct obs_code *also = NULL;
        obs_code_by_loinc(slice_cstr(c->loinc_also), &also);
        const char *disp = also && strcmp(also->loinc, c->loinc_also) == 0 ? also->display : NULL;
        if (strcmp(c->loinc_also, "59408-5") == 0)
            disp = "Oxygen saturation in Arterial blood by Pulse oximetry";
        json_array_append_new(codings, coding(FHIR_SYSTEM_LOINC, c->loinc_also, disp));
    }
    if (c->mdc) {
        char m[16];
        snprintf(m, sizeof(m), "%u", (unsigned)c->mdc);
        json_array_append_new(codings, coding(FHIR_SYSTEM_MDC, m, c->mdc_ref));
    }
    if (json_array_size(codings) == 0) {
        json_decref(codings);
        return NULL;
    }
    return json_pack("{s:o, s:s}", "coding", codings, "text", c->display);
}

static json_t *quantity(const struct obs_code *c, double value)
{
    return json_pack("{s:f, s:s, s:s, s:s}", "value", value, "unit", c->unit_label, "system",
                     FHIR_SYSTEM_UCUM, "code", c->ucum);
}

void fhir_obs_id(const struct obs *o, bool is_panel, char buf[FHIR_ID_MAX + 1])
{
    if (is_panel)
        snprintf(buf, FHIR_ID_MAX + 1, "%lld.bp.%lld.%lld", (long long)o->patient_id,
                 (long long)o->effective_us, (long long)o->device_id);
    else
        snprintf(buf, FHIR_ID_MAX + 1, "%lld.%u.%lld.%lld", (long long)o->patient_id,
                 (unsigned)o->code, (long long)o->effective_us, (long long)o->device_id);
}

/* The parts every Observation shares, up to code. */
static json_t *obs_head(const struct obs *o, bool is_panel, int64_t last_updated_us,
                        const char *category, json_t *profiles, json_t *code)
{
    char id[FHIR_ID_MAX + 1];
    fhir_obs_id(o, is_panel, id);
    json_t *cat = json_pack("[{s:[o], s:s*}]", "coding",
                            coding(FHIR_SYSTEM_OBS_CATEGORY, category, category_display(category)),
                            "text", category_display(category));
    /* FHIR R4 Observation.status; effectiveDateTime at least day-precise (vs-1). */
    return json_pack("{s:s, s:s, s:o, s:s, s:o, s:o, s:o, s:o, s:o}", "resourceType", "Observation",
                     "id", id, "meta", meta(last_updated_us, profiles), "status",
                     obs_status_name(o->status), "category", cat, "code", code, "subject",
                     reference("Patient", o->patient_id), "effectiveDateTime",
                     time_json(o->effective_us), "issued", time_json(last_updated_us));
}

json_t *fhir_obs_to_json(const struct obs *o)
{
    const struct obs_code *c = obs_code_get(o->code);
    if (HX_UNLIKELY_BUG(!c))
        return NULL;
    const char *cat = fhir__obs_category(o->code);
    json_t *profiles = NULL;
    if (c->is_vital_sign) {
        const char *p = vital_profile(c);
        profiles = p ? json_pack("[s, s]", SD "vitalsigns", p) : json_pack("[s]", SD "vitalsigns");
    }
    json_t *r = obs_head(o, false, o->received_us, cat, profiles, obs_code_json(c));
    if (!r)
        return NULL;
    bool ok = set(r, "valueQuantity", quantity(c, o->value));
    if (o->device_id > 0)
        ok &= set(r, "device", reference("Device", o->device_id));
    if (!ok) {
        json_decref(r);
        return NULL;
    }
    return r;
}

static json_t *component(const struct obs *o)
{
    const struct obs_code *c = obs_code_get(o->code);
    return json_pack("{s:o, s:o}", "code", obs_code_json(c), "valueQuantity",
                     quantity(c, o->value));
}

json_t *fhir_bp_panel_to_json(const struct obs *sys, const struct obs *dia)
{
    int64_t updated = sys->received_us > dia->received_us ? sys->received_us : dia->received_us;
    json_t *code = json_pack(
        "{s:[o, o], s:s}", "coding",
        coding(FHIR_SYSTEM_LOINC, "85354-9", "Blood pressure panel with all children optional"),
        coding(FHIR_SYSTEM_MDC, "150020", "MDC_PRESS_BLD_NONINV"), "text", "Blood pressure");
    /* FHIR R4 bp profile: no value of its own; components SystolicBP and DiastolicBP. */
    json_t *r = obs_head(sys, true, updated, "vital-signs",
                         json_pack("[s, s]", SD "vitalsigns", SD "bp"), code);
    if (!r)
        return NULL;
    bool ok = set(r, "component", json_pack("[o, o]", component(sys), component(dia)));
    if (sys->device_id > 0)
        ok &= set(r, "device", reference("Device", sys->device_id));
    if (!ok) {
        json_decref(r);
        return NULL;
    }
    return r;
}

/* ---- Flag -------------------------------------------------------------------------------- */

/* IHE PCD alarm priority of the flag-priority extension (FHIR R4 extension flag-priority,
 * code system flag-priority-code): PN none, PL low, PM medium, PH high. */
static json_t *priority_ext(int severity)
{
    static const char *const codes[][2] = {
        {"PN", "No alarm"},        {"PN", "No alarm"},      {"PL", "Low priority"},
        {"PM", "Medium priority"}, {"PH", "High priority"}, {"PH", "High priority"},
    };
    int s = severity >= 0 && severity <= ALERT_SEV_CRITICAL ? severity : 0;
    return json_pack("[{s:s, s:{s:[o], s:s}}]", "url", SD "flag-priority", "valueCodeableConcept",
                     "coding",
                     coding("http://terminology.hl7.org/CodeSystem/flag-priority-code", codes[s][0],
                            codes[s][1]),
                     "text", alert_severity_name(s));
}

json_t *fhir_flag_to_json(const struct alert *a)
{
    if (a->patient_id <= 0)
        return NULL;
    char *id = id_text(a->id);
    bool clinical = a->cls == ALERT_CLASS_PHYSIOLOGICAL;
    json_t *codings = json_pack("[o]", coding(FHIR_SYSTEM_ALERT_RULE, a->rule, NULL));
    const struct obs_code *c = a->code ? obs_code_get(a->code) : NULL;
    if (codings && c)
        json_array_append_new(codings, coding(FHIR_SYSTEM_LOINC, c->loinc, c->display));
    json_t *period = json_pack("{s:o}", "start", time_json(a->raised_us));
    if (period && a->state == ALERT_RESOLVED && a->resolved_us)
        json_object_set_new(period, "end", time_json(a->resolved_us));
    json_t *r = json_pack(
        "{s:s, s:s, s:o, s:o, s:s, s:[{s:[o], s:s}], s:{s:o, s:s}, s:o, s:o}", "resourceType",
        "Flag", "id", id, "meta", meta(a->updated_us, NULL), "extension", priority_ext(a->severity),
        "status", a->state == ALERT_RESOLVED ? "inactive" : "active", "category", "coding",
        coding("http://terminology.hl7.org/CodeSystem/flag-category",
               clinical ? "clinical" : "safety", clinical ? "Clinical" : "Safety"),
        "text", alert_class_name(a->cls), "code", "coding", codings, "text",
        a->title[0] ? a->title : a->rule, "subject", reference("Patient", a->patient_id), "period",
        period);
    free(id);
    return r;
}

/* ---- OperationOutcome and errors --------------------------------------------------------- */

json_t *fhir_outcome_new(const char *severity, const char *code, const char *diagnostics)
{
    return json_pack("{s:s, s:[{s:s, s:s, s:s*}]}", "resourceType", "OperationOutcome", "issue",
                     "severity", severity, "code", code, "diagnostics", diagnostics);
}

json_t *fhir_outcome_from_err(int err, const char *diagnostics, int *http_status)
{
    const char *code;
    switch (err) {
    case HX_EDENIED:
        *http_status = 403;
        code = "forbidden";
        break;
    case HX_ENOTFOUND:
        *http_status = 404;
        code = "not-found";
        break;
    case HX_EINVAL:
    case HX_EMALFORMED:
        *http_status = 400;
        code = "invalid";
        break;
    case HX_ETOOBIG:
        *http_status = 413;
        code = "too-costly";
        break;
    case HX_EBUSY:
    case HX_ESHUTDOWN:
        *http_status = 503;
        code = "transient";
        break;
    default:
        *http_status = 500;
        code = "exception";
        break;
    }
    return fhir_outcome_new("error", code, diagnostics ? diagnostics : hx_strerror(err));
}

json_t *fhir_outcome_unknown_type(const char *name, size_t len)
{
    char nm[48];
    size_t n = 0;
    for (size_t i = 0; i < len && n < 40; i++)
        nm[n++] = name[i] >= 0x20 && name[i] < 0x7f ? name[i] : '?';
    nm[n] = '\0';
    char *msg = hx_xasprintf("resource type '%s' is not served here (see /metadata)", nm);
    json_t *r = fhir_outcome_new("error", "not-supported", msg);
    free(msg);
    return r;
}

char *fhir_dumps(const json_t *body)
{
    return json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
}
