/*
 * Routes of this file are not built yet (docs/api.md lists what is planned).
 * Layer: api. Thread: loop.
 */
#include "api/api_int.h"

int api__admin_routes(struct api *a, struct http_router *r)
{
    (void)a;
    (void)r;
    return 0;
}
