/*
 * Names of alert severities, states, classes and events. Pure. Thread: any.
 */
#include "domain/alert.h"

#include <string.h>

static const char *const sev_names[] = {"none", "info", "low", "medium", "high", "critical"};

const char *alert_severity_name(int sev)
{
    return sev >= 0 && sev <= ALERT_SEV_CRITICAL ? sev_names[sev] : "?";
}

int alert_severity_parse(const char *name)
{
    for (int i = ALERT_SEV_INFO; i <= ALERT_SEV_CRITICAL; i++)
        if (strcmp(name, sev_names[i]) == 0)
            return i;
    return ALERT_SEV_NONE;
}

const char *alert_state_name(int state)
{
    static const char *const n[] = {"raised", "acknowledged", "resolved"};
    return state >= 0 && state <= ALERT_RESOLVED ? n[state] : "?";
}

const char *alert_class_name(int cls)
{
    return cls == ALERT_CLASS_PHYSIOLOGICAL ? "physiological"
           : cls == ALERT_CLASS_TECHNICAL   ? "technical"
                                            : "?";
}

const char *alert_event_name(int ev)
{
    static const char *const n[] = {"raised", "updated", "escalated", "acknowledged", "resolved"};
    return ev >= 0 && ev <= ALERT_EV_RESOLVED ? n[ev] : "?";
}
