/*
 * Storage interface dispatch for users, sessions, tokens, throttling and break-glass
 * (store_auth.h): every call goes through the connection's auth ops table. No SQL here.
 * Layer: store. Thread: a struct store is used by one thread at a time; no shared state.
 */
#include "store/store_auth.h"
#include "store/store_int.h"

int store_user_add(struct store *st, struct store_user *u)
{
    return st->ops->auth->user_add(st, u);
}

int store_user_get(struct store *st, const char *name, struct store_user *out)
{
    return st->ops->auth->user_get(st, name, out);
}

int store_user_get_by_id(struct store *st, int64_t id, struct store_user *out)
{
    return st->ops->auth->user_get_by_id(st, id, out);
}

int store_user_list(struct store *st, store_user_fn *fn, void *arg)
{
    return st->ops->auth->user_list(st, fn, arg);
}

int store_user_update(struct store *st, const struct store_user *u, unsigned fields, int64_t now_us)
{
    return st->ops->auth->user_update(st, u, fields, now_us);
}

int store_user_use_mfa_step(struct store *st, int64_t user_id, int64_t step)
{
    return st->ops->auth->user_use_mfa_step(st, user_id, step);
}

int store_user_count_role(struct store *st, const char *role, bool with_disabled, int64_t *n)
{
    return st->ops->auth->user_count_role(st, role, with_disabled, n);
}

int store_user_ward_add(struct store *st, int64_t user_id, const char *ward)
{
    return st->ops->auth->user_ward_add(st, user_id, ward);
}

int store_user_ward_remove(struct store *st, int64_t user_id, const char *ward)
{
    return st->ops->auth->user_ward_remove(st, user_id, ward);
}

int store_user_ward_list(struct store *st, int64_t user_id, store_ward_fn *fn, void *arg)
{
    return st->ops->auth->user_ward_list(st, user_id, fn, arg);
}

int store_user_patient_add(struct store *st, int64_t user_id, int64_t patient_id)
{
    return st->ops->auth->user_patient_add(st, user_id, patient_id);
}

int store_user_patient_remove(struct store *st, int64_t user_id, int64_t patient_id)
{
    return st->ops->auth->user_patient_remove(st, user_id, patient_id);
}

int store_user_patient_list(struct store *st, int64_t user_id, store_id_fn *fn, void *arg)
{
    return st->ops->auth->user_patient_list(st, user_id, fn, arg);
}

int store_user_has_patient(struct store *st, int64_t user_id, int64_t patient_id, bool *out)
{
    return st->ops->auth->user_has_patient(st, user_id, patient_id, out);
}

int store_recovery_set(struct store *st, int64_t user_id, const char (*hashes)[STORE_HASH_MAX],
                       size_t n)
{
    return st->ops->auth->recovery_set(st, user_id, hashes, n);
}

int store_recovery_use(struct store *st, int64_t user_id, const char *hash, int64_t now_us)
{
    return st->ops->auth->recovery_use(st, user_id, hash, now_us);
}

int store_recovery_count(struct store *st, int64_t user_id, int64_t *n_unused)
{
    return st->ops->auth->recovery_count(st, user_id, n_unused);
}

int store_session_add(struct store *st, struct store_session *s)
{
    return st->ops->auth->session_add(st, s);
}

int store_session_get(struct store *st, const char *token_hash, struct store_session *out)
{
    return st->ops->auth->session_get(st, token_hash, out);
}

int store_session_touch(struct store *st, int64_t id, int64_t now_us)
{
    return st->ops->auth->session_touch(st, id, now_us);
}

int store_session_delete(struct store *st, int64_t id, int64_t user_id)
{
    return st->ops->auth->session_delete(st, id, user_id);
}

int store_session_delete_user(struct store *st, int64_t user_id, int64_t keep_id, size_t *n)
{
    return st->ops->auth->session_delete_user(st, user_id, keep_id, n);
}

int store_session_list(struct store *st, int64_t user_id, store_session_fn *fn, void *arg)
{
    return st->ops->auth->session_list(st, user_id, fn, arg);
}

int store_session_purge(struct store *st, int64_t now_us, int64_t idle_cutoff_us, size_t *n)
{
    return st->ops->auth->session_purge(st, now_us, idle_cutoff_us, n);
}

int store_ticket_add(struct store *st, const struct store_ticket *t)
{
    return st->ops->auth->ticket_add(st, t);
}

int store_ticket_get(struct store *st, const char *token_hash, struct store_ticket *out)
{
    return st->ops->auth->ticket_get(st, token_hash, out);
}

int store_ticket_attempt(struct store *st, const char *token_hash, int *attempts)
{
    return st->ops->auth->ticket_attempt(st, token_hash, attempts);
}

int store_ticket_delete(struct store *st, const char *token_hash)
{
    return st->ops->auth->ticket_delete(st, token_hash);
}

int store_apitoken_add(struct store *st, struct store_apitoken *t)
{
    return st->ops->auth->apitoken_add(st, t);
}

int store_apitoken_get(struct store *st, const char *name, struct store_apitoken *out)
{
    return st->ops->auth->apitoken_get(st, name, out);
}

int store_apitoken_get_by_hash(struct store *st, const char *token_hash, struct store_apitoken *out)
{
    return st->ops->auth->apitoken_get_by_hash(st, token_hash, out);
}

int store_apitoken_list(struct store *st, store_apitoken_fn *fn, void *arg)
{
    return st->ops->auth->apitoken_list(st, fn, arg);
}

int store_apitoken_revoke(struct store *st, const char *name, int64_t now_us)
{
    return st->ops->auth->apitoken_revoke(st, name, now_us);
}

int store_apitoken_touch(struct store *st, int64_t id, int64_t now_us)
{
    return st->ops->auth->apitoken_touch(st, id, now_us);
}

int store_throttle_get(struct store *st, const char *key, struct store_throttle *out)
{
    return st->ops->auth->throttle_get(st, key, out);
}

int store_throttle_put(struct store *st, const char *key, const struct store_throttle *t)
{
    return st->ops->auth->throttle_put(st, key, t);
}

int store_throttle_delete(struct store *st, const char *key)
{
    return st->ops->auth->throttle_delete(st, key);
}

int store_break_glass_add(struct store *st, struct store_break_glass *g)
{
    return st->ops->auth->break_glass_add(st, g);
}

int store_break_glass_active(struct store *st, int64_t user_id, int64_t patient_id, int64_t now_us,
                             struct store_break_glass *out)
{
    return st->ops->auth->break_glass_active(st, user_id, patient_id, now_us, out);
}

int store_break_glass_list(struct store *st, int64_t user_id, size_t limit,
                           store_break_glass_fn *fn, void *arg)
{
    return st->ops->auth->break_glass_list(st, user_id, limit, fn, arg);
}
