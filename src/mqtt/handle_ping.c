/*
 * PINGREQ: answered with PINGRESP (3.1.1 §3.12). Any packet already reset the keep alive
 * clock in session.c. Layer: mqtt (front end). Thread: loop.
 */
#include "mqtt/session_int.h"

int mqtt__handle_ping(struct mqtt_session *s)
{
    return mqtt__send_pingresp(s) < 0 ? MQTT__RC_CLOSED : 0;
}
