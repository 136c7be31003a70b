/*
 * Strict webhook URL parser (RFC 3986 subset): http or https, a DNS name, dotted-quad IPv4 or
 * bracketed IPv6 host, an optional port, and a path and query of plain URI characters.
 * Anything a URL library might read differently from us (user information, fragments,
 * backslashes, odd IPv4 forms such as 127.1 or 0x7f.0.0.1, bare spaces) is refused, so that
 * what `medhub webhook add` accepts is exactly where the daemon POSTs. Pure.
 * Layer: notify. Thread: any.
 */
#include "core/err.h"
#include "notify/webhook.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int refuse(char *why, size_t why_len, const char *what)
{
    snprintf(why, why_len, "%s", what);
    return HX_EINVAL;
}

static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_hex(char c)
{
    return isxdigit((unsigned char)c) != 0;
}

/* RFC 3986 pchar minus '%' (checked apart), plus '/' and '?'. */
static bool is_target_char(char c)
{
    return is_alnum(c) || (c && strchr("-._~!$&'()*+,;=:@/?", c) != NULL);
}

/* A DNS name: labels of letters, digits and inner hyphens. A name whose last label is all
 * digits must be a dotted-quad IPv4 address (checked by the caller). */
static int check_dns_name(const char *h, size_t len, bool *last_numeric, char *why, size_t why_len)
{
    size_t label = 0;
    bool digits_only = true;
    for (size_t i = 0; i <= len; i++) {
        char c = i < len ? h[i] : '.';
        if (c == '.') {
            if (label == 0)
                return refuse(why, why_len,
                              "the host has an empty label (e.g. '..' or a final '.')");
            if (label > 63)
                return refuse(why, why_len, "a host label is longer than 63 characters");
            if (h[i - 1] == '-' || h[i - label] == '-')
                return refuse(why, why_len, "a host label starts or ends with '-'");
            if (i < len) {
                label = 0;
                digits_only = true;
            }
            continue;
        }
        if (!is_alnum(c) && c != '-')
            return refuse(why, why_len,
                          "the host may only contain letters, digits, '-' and '.' (or be a "
                          "[bracketed] IPv6 address)");
        if (!(c >= '0' && c <= '9'))
            digits_only = false;
        label++;
    }
    *last_numeric = digits_only;
    return 0;
}

int webhook_url_parse(const char *s, struct webhook_url *out, char *why, size_t why_len)
{
    memset(out, 0, sizeof(*out));
    size_t len = strnlen(s, WEBHOOK_URL_MAX + 1);
    if (len > WEBHOOK_URL_MAX)
        return refuse(why, why_len, "the URL is longer than 2047 bytes");
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f)
            return refuse(why, why_len,
                          "the URL contains a space, a control character or a non-ASCII byte "
                          "(percent-encode it)");
    }

    const char *p;
    if (strncasecmp(s, "https://", 8) == 0) {
        out->tls = true;
        p = s + 8;
    } else if (strncasecmp(s, "http://", 7) == 0) {
        p = s + 7;
    } else {
        return refuse(why, why_len, "expected a URL starting with http:// or https://");
    }

    if (strchr(p, '\\'))
        return refuse(why, why_len, "a backslash is not allowed in a webhook URL");
    /* The authority ends at the first '/', '?' or '#' (RFC 3986 3.2). */
    size_t auth_len = strcspn(p, "/?#");
    const char *target = p + auth_len;
    if (memchr(p, '@', auth_len))
        return refuse(why, why_len,
                      "user information (user:password@) is not allowed in a webhook URL; the "
                      "request is signed instead");
    if (strchr(target, '#'))
        return refuse(why, why_len, "a fragment (#...) is not allowed in a webhook URL");

    const char *host = p, *port = NULL;
    size_t host_len;
    if (auth_len && p[0] == '[') {
        const char *close = memchr(p, ']', auth_len);
        if (!close)
            return refuse(why, why_len, "an IPv6 host is missing its closing ']'");
        host = p + 1;
        host_len = (size_t)(close - host);
        char a[INET6_ADDRSTRLEN + 1];
        struct in6_addr a6;
        if (host_len == 0 || host_len >= sizeof(a))
            return refuse(why, why_len, "the [IPv6] host is not a valid IPv6 address");
        memcpy(a, host, host_len);
        a[host_len] = '\0';
        if (inet_pton(AF_INET6, a, &a6) != 1)
            return refuse(why, why_len, "the [IPv6] host is not a valid IPv6 address");
        out->host_is_ip = true;
        const char *after = close + 1;
        if (after < p + auth_len) {
            if (*after != ':')
                return refuse(why, why_len, "expected ':PORT' or the path after ']'");
            port = after + 1;
        }
    } else {
        const char *colon = memchr(p, ':', auth_len);
        host_len = colon ? (size_t)(colon - p) : auth_len;
        if (colon)
            port = colon + 1;
        if (host_len == 0)
            return refuse(why, why_len, "the URL has no host");
        if (host_len > WEBHOOK_HOST_MAX)
            return refuse(why, why_len, "the host is longer than 253 characters");
        bool numeric = false;
        int rc = check_dns_name(host, host_len, &numeric, why, why_len);
        if (rc < 0)
            return rc;
        if (numeric) {
            char a[WEBHOOK_HOST_MAX + 1];
            struct in_addr a4;
            memcpy(a, host, host_len);
            a[host_len] = '\0';
            if (inet_pton(AF_INET, a, &a4) != 1)
                return refuse(why, why_len,
                              "a numeric host must be a dotted-quad IPv4 address (a.b.c.d, "
                              "each 0-255, no leading zeros)");
            out->host_is_ip = true;
        }
    }
    for (size_t i = 0; i < host_len; i++)
        out->host[i] = (char)tolower((unsigned char)host[i]);
    out->host[host_len] = '\0';

    out->port = out->tls ? 443 : 80;
    bool explicit_port = false;
    if (port) {
        size_t n = (size_t)(p + auth_len - port);
        unsigned long v = 0;
        if (n == 0 || n > 5)
            return refuse(why, why_len, "expected a port from 1 to 65535 after ':'");
        for (size_t i = 0; i < n; i++) {
            if (port[i] < '0' || port[i] > '9')
                return refuse(why, why_len, "expected a port from 1 to 65535 after ':'");
            v = v * 10 + (unsigned long)(port[i] - '0');
        }
        if (v < 1 || v > 65535)
            return refuse(why, why_len, "expected a port from 1 to 65535 after ':'");
        out->port = (uint16_t)v;
        explicit_port = true;
    }

    for (const char *t = target; *t; t++) {
        if (*t == '%') {
            if (!is_hex(t[1]) || !is_hex(t[2]))
                return refuse(why, why_len, "a '%' in the path is not followed by two hex digits");
            t += 2;
            continue;
        }
        if (!is_target_char(*t))
            return refuse(why, why_len,
                          "the path or query contains a character that must be "
                          "percent-encoded");
    }

    const char *slash = *target == '/' ? "" : "/";
    bool v6 = strchr(out->host, ':') != NULL;
    char port_text[8] = "";
    if (explicit_port)
        snprintf(port_text, sizeof(port_text), ":%u", (unsigned)out->port);
    int n = snprintf(out->normalized, sizeof(out->normalized), "%s://%s%s%s%s%s%s",
                     out->tls ? "https" : "http", v6 ? "[" : "", out->host, v6 ? "]" : "",
                     port_text, slash, target);
    if (n < 0 || (size_t)n >= sizeof(out->normalized))
        return refuse(why, why_len, "the URL is longer than 2047 bytes");
    snprintf(out->target, sizeof(out->target), "%s%s", slash, target);
    return 0;
}
