package results

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRebind(t *testing.T) {
	for q, want := range map[string]string{
		"SELECT 1":                                    "SELECT 1",
		"a = ? AND b = ?":                             "a = $1 AND b = $2",
		"x = '?' AND y = ?":                           "x = '?' AND y = $1",
		`"odd?name" = ? -- what? no\nAND z = ?`:       `"odd?name" = $1 -- what? no\nAND z = $2`,
		"s = 'it''s ?' OR t = ?":                      "s = 'it''s ?' OR t = $1",
		"-- a comment with ?\nSELECT ? -- trailing ?": "-- a comment with ?\nSELECT $1 -- trailing ?",
		"unterminated = ? AND '?":                     "unterminated = $1 AND '?",
	} {
		q = strings.ReplaceAll(q, `\n`, "\n")
		want = strings.ReplaceAll(want, `\n`, "\n")
		if got := postgresDialect.rebind(q); got != want {
			t.Errorf("rebind(%q) = %q, want %q", q, got, want)
		}
		if got := sqliteDialect.rebind(q); got != q {
			t.Errorf("SQLite's rebind changed %q to %q", q, got)
		}
	}
}

// The one set of migrations, run on each store, makes the same tables with
// the same columns, types, nullability, defaults, keys and generated ids:
// what keeps the PostgreSQL translation of each migration honest, for the
// migrations of today and those written later.
func TestMigrationsMakeTheSameSchemaOnBothStores(t *testing.T) {
	schemas := map[string]map[string][]string{}
	for _, kind := range storeKinds {
		s, _ := openKind(t, kind)
		schemas[kind] = schemaOf(t, s)
	}
	if len(schemas["sqlite"]) < 10 {
		t.Fatalf("only %d tables read from SQLite: %v", len(schemas["sqlite"]), schemas["sqlite"])
	}
	if d := cmp.Diff(schemas["sqlite"], schemas["postgres"]); d != "" {
		t.Errorf("tables (-sqlite +postgres):\n%s", d)
	}
}

// schemaOf describes each table as lines "column TYPE null|not null
// default=... pk=N [generated]", with PostgreSQL's types named as SQLite's.
// Generated are the keys an INSERT may leave out: on SQLite any INTEGER
// PRIMARY KEY (the rowid) could be, but dogrun leaves out only those named
// id, the ones PostgreSQL generates.
func schemaOf(t *testing.T, s *Store) map[string][]string {
	t.Helper()
	q := `SELECT m.name, p.name, p.type, p."notnull", coalesce(p.dflt_value, ''), p.pk,
			p.name = 'id' AND p.type = 'INTEGER' AND p.pk = 1 AND (SELECT count(*) FROM pragma_table_info(m.name) WHERE pk > 0) = 1
		FROM sqlite_master m JOIN pragma_table_info(m.name) p
		WHERE m.type = 'table' ORDER BY m.name, p.cid`
	if s.d.postgres {
		q = `SELECT c.table_name, c.column_name,
				CASE c.data_type WHEN 'bigint' THEN 'INTEGER' WHEN 'double precision' THEN 'REAL'
					WHEN 'text' THEN 'TEXT' WHEN 'bytea' THEN 'BLOB' ELSE c.data_type END,
				c.is_nullable = 'NO', coalesce(replace(c.column_default, '::text', ''), ''),
				coalesce(k.ordinal_position, 0), c.is_identity = 'YES'
			FROM information_schema.columns c
			LEFT JOIN information_schema.table_constraints tc
				ON tc.table_schema = c.table_schema AND tc.table_name = c.table_name AND tc.constraint_type = 'PRIMARY KEY'
			LEFT JOIN information_schema.key_column_usage k
				ON k.constraint_name = tc.constraint_name AND k.table_schema = c.table_schema AND k.column_name = c.column_name
			WHERE c.table_schema = current_schema()
			ORDER BY c.table_name, c.ordinal_position`
	}
	rows, err := s.db.QueryContext(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var table, col, typ, def string
		var notNull, generated bool
		var pk int
		if err := rows.Scan(&table, &col, &typ, &notNull, &def, &pk, &generated); err != nil {
			t.Fatal(err)
		}
		null := "null"
		if notNull || pk > 0 { // a key column is never null, whether declared so or not
			null = "not null"
		}
		line := fmt.Sprintf("%s %s %s default=%s pk=%d", col, typ, null, def, pk)
		if generated {
			line += " generated"
		}
		out[table] = append(out[table], line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
