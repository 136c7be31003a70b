/*
 * Device PKI: a private certificate authority in <data-dir>/tls/ that signs the server
 * certificate (for MQTT/HTTP over TLS) and one client certificate per device (CN = device id),
 * so that devices can authenticate with mutual TLS instead of a secret.
 * Keys are ECDSA P-256, certificates X.509 v3 signed with SHA-256. Key files are created with
 * mode 0600 through open(O_CREAT | O_EXCL) and nothing that exists is ever overwritten.
 * Thread: any (blocking file I/O and key generation: never on the loop thread).
 */
#ifndef MEDHUB_SECURITY_CA_H
#define MEDHUB_SECURITY_CA_H

#include <stdbool.h>
#include <stddef.h>

#define SEC_CA_DIR         "tls"
#define SEC_CA_CERT_FILE   "device-ca.crt"
#define SEC_CA_KEY_FILE    "device-ca.key"
#define SEC_CA_SERVER_CERT "server.crt"
#define SEC_CA_SERVER_KEY  "server.key"

#define SEC_CA_DAYS     3650 /* device CA validity */
#define SEC_SERVER_DAYS 730  /* server certificate validity */
#define SEC_DEVICE_DAYS 365  /* device certificate validity */

/* What sec_ca_ensure created (both false when everything existed). */
struct sec_ca_result {
    bool ca_created;     /* device-ca.crt + device-ca.key are new */
    bool server_created; /* server.crt + server.key are new */
};

/* Creates <data_dir>/tls/ (0700) and, when missing, the device CA (device-ca.crt/.key:
 * CA:TRUE, keyCertSign + cRLSign, 10 years) and a server certificate signed by it
 * (server.crt/.key: serverAuth, 2 years, SANs DNS:localhost, IP:127.0.0.1, IP:::1 plus each of
 * hostnames: IP literals become IP SANs, anything else a DNS SAN). A pair where only one of
 * the two files exists is an error (never repaired by overwriting). data_dir must exist.
 * hostnames (n_hostnames entries, may be NULL when 0) and data_dir are borrowed.
 * OUT: *res (may be NULL) what was created.
 * Returns 0, HX_EINVAL (bad host name), HX_ECORRUPT (unreadable or half-present CA files)
 * or -errno; one line of detail in err. */
int sec_ca_ensure_ex(const char *data_dir, const char *const *hostnames, size_t n_hostnames,
                     struct sec_ca_result *res, char *err, size_t err_len);

/* sec_ca_ensure_ex without the result. */
int sec_ca_ensure(const char *data_dir, const char *const *hostnames, size_t n_hostnames, char *err,
                  size_t err_len);

/* Issues a client certificate for device_id (a valid device uid: CN = device_id,
 * clientAuth, digitalSignature, 1 year, random 128-bit serial) signed by the device CA of
 * data_dir (which must exist: call sec_ca_ensure first), and writes into out_dir (must
 * exist): <id>.crt, <id>.key (0600) and ca.crt (a copy of device-ca.crt, so the device can
 * verify the server). <id>.crt and <id>.key must not exist yet (-EEXIST); an existing ca.crt
 * is kept when it is identical to the CA certificate, else -EEXIST.
 * OUT: cert_path/key_path/ca_path (each may be NULL, else path_len bytes) the files written.
 * On failure nothing this call created is left behind.
 * Returns 0, HX_EINVAL (bad device id), -ENOENT (no CA), -EEXIST, HX_ECORRUPT or -errno;
 * detail in err. */
int sec_ca_issue_device_ex(const char *data_dir, const char *device_id, const char *out_dir,
                           char *cert_path, char *key_path, char *ca_path, size_t path_len,
                           char *err, size_t err_len);

/* sec_ca_issue_device_ex without the paths. */
int sec_ca_issue_device(const char *data_dir, const char *device_id, const char *out_dir, char *err,
                        size_t err_len);

#endif
