/*
 * SQLite backend: the command queue. `medhub device send` adds rows (state NEW); the MQTT
 * gateway polls what it must act on and records each state change. Layer: store/sqlite.
 * Thread: whichever thread uses the connection (one at a time).
 */
#include "core/err.h"
#include "core/hxtime.h"
#include "store/sqlite/sqlst_int.h"

#define CMD_COLS "id, device_id, payload, qos, retain, created_us, expires_us, state, updated_us"

const struct sqlst_sql sqlst__sql_command[] = {
    {SQLST_CMD_ADD, "INSERT INTO commands(device_id, payload, qos, retain, created_us, expires_us,"
                    " state, updated_us) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?5)"},
    {SQLST_CMD_GET, "SELECT " CMD_COLS " FROM commands WHERE id = ?1"},
    /* Pending commands, and the newest retained command of each device whatever its state
     * (it is sent again to every new subscription until replaced). */
    {SQLST_CMD_POLL,
     "SELECT " CMD_COLS " FROM commands AS c WHERE id > ?1 AND ((state < 3 AND expires_us > ?2)"
     " OR (retain = 1 AND NOT EXISTS (SELECT 1 FROM commands AS n WHERE n.device_id ="
     " c.device_id AND n.retain = 1 AND n.id > c.id))) ORDER BY id"},
    {SQLST_CMD_SET_STATE,
     "UPDATE commands SET state = ?2, updated_us = ?3 WHERE id = ?1 AND state < 3"},
    {SQLST_CMD_LIST,
     "SELECT " CMD_COLS " FROM commands WHERE device_id = ?1 ORDER BY id DESC LIMIT ?2"},
};
const size_t sqlst__n_sql_command = sizeof(sqlst__sql_command) / sizeof(sqlst__sql_command[0]);

static void read_command(sqlite3_stmt *s, struct dev_command *c)
{
    c->id = sqlite3_column_int64(s, 0);
    c->device_id = sqlite3_column_int64(s, 1);
    c->payload = sqlite3_column_blob(s, 2);
    c->payload_len = (size_t)sqlite3_column_bytes(s, 2);
    c->qos = (uint8_t)sqlite3_column_int(s, 3);
    c->retain = sqlite3_column_int(s, 4) != 0;
    c->created_us = sqlite3_column_int64(s, 5);
    c->expires_us = sqlite3_column_int64(s, 6);
    c->state = (enum store_cmd_state)sqlite3_column_int(s, 7);
    c->updated_us = sqlite3_column_int64(s, 8);
}

/* The caller's callback, and a count of the rows it was lent. */
struct command_cb {
    store_command_fn *fn;
    void *arg;
    int rows;
};

static int command_row(sqlite3_stmt *s, void *arg)
{
    struct command_cb *c = arg;
    struct dev_command cmd;
    read_command(s, &cmd);
    c->rows++;
    return c->fn(c->arg, &cmd);
}

int sqlst__command_add(struct store *st, struct dev_command *c)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_CMD_ADD];
    int64_t now = hx_time_now_us();
    sqlite3_bind_int64(s, 1, c->device_id);
    /* A zero-length blob must still be a blob, not NULL (the column is NOT NULL). */
    sqlite3_bind_blob(s, 2, c->payload_len ? (const void *)c->payload : "", (int)c->payload_len,
                      SQLITE_STATIC);
    sqlite3_bind_int(s, 3, c->qos);
    sqlite3_bind_int(s, 4, c->retain ? 1 : 0);
    sqlite3_bind_int64(s, 5, now);
    sqlite3_bind_int64(s, 6, c->expires_us);
    int rc = sqlst__exec(db, s);
    if (rc == 0) {
        c->id = sqlite3_last_insert_rowid(db->db);
        c->created_us = now;
        c->updated_us = now;
        c->state = STORE_CMD_NEW;
    }
    return rc;
}

int sqlst__command_get(struct store *st, int64_t id, store_command_fn *fn, void *arg)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_CMD_GET];
    sqlite3_bind_int64(s, 1, id);
    struct command_cb c = {fn, arg, 0};
    int rc = sqlst__each(db, s, command_row, &c);
    return rc == 0 && c.rows == 0 ? HX_ENOTFOUND : rc;
}

int sqlst__command_poll(struct store *st, int64_t after_id, int64_t now_us, store_command_fn *fn,
                        void *arg)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_CMD_POLL];
    sqlite3_bind_int64(s, 1, after_id);
    sqlite3_bind_int64(s, 2, now_us);
    struct command_cb c = {fn, arg, 0};
    return sqlst__each(db, s, command_row, &c);
}

int sqlst__command_set_state(struct store *st, int64_t id, enum store_cmd_state state,
                             int64_t now_us)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_CMD_SET_STATE];
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int(s, 2, (int)state);
    sqlite3_bind_int64(s, 3, now_us);
    return sqlst__exec(db, s);
}

int sqlst__command_list(struct store *st, int64_t device_id, size_t limit, store_command_fn *fn,
                        void *arg)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_CMD_LIST];
    sqlite3_bind_int64(s, 1, device_id);
    sqlite3_bind_int64(s, 2, limit ? (int64_t)limit : -1);
    struct command_cb c = {fn, arg, 0};
    return sqlst__each(db, s, command_row, &c);
}
