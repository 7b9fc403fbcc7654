package postgres_test

import (
	"context"
	"os"
	"regexp"
	"testing"
)

// The CockroachDB multi-region overlay must cover every table of the migrated schema:
// tables with a region column are REGIONAL BY ROW on it, the rest are GLOBAL.
func TestCockroachOverlayCoversSchema(t *testing.T) {
	db := openDB(t)
	overlay, err := os.ReadFile("../../deploy/cockroachdb/multiregion.sql")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := db.Pool.Query(context.Background(), `
		SELECT t.table_name, EXISTS (SELECT 1 FROM information_schema.columns c
			WHERE c.table_schema = t.table_schema AND c.table_name = t.table_name AND c.column_name = 'region')
		FROM information_schema.tables t WHERE t.table_schema = 'public' AND t.table_type = 'BASE TABLE'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var table string
		var regional bool
		if err := rows.Scan(&table, &regional); err != nil {
			t.Fatal(err)
		}
		n++
		want := `(?m)^ALTER TABLE ` + table + ` SET LOCALITY GLOBAL;`
		if regional {
			want = `(?m)^ALTER TABLE ` + table + ` ADD COLUMN crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS \(region::crdb_internal_region\) STORED;\s*\nALTER TABLE ` + table + ` SET LOCALITY REGIONAL BY ROW AS crdb_region;`
		}
		if !regexp.MustCompile(want).Match(overlay) {
			t.Errorf("overlay does not place table %s (regional: %v)", table, regional)
		}
	}
	if n < 8 {
		t.Fatalf("only %d tables found", n)
	}
	for _, stmt := range []string{`SET PRIMARY REGION`, `SURVIVE REGION FAILURE`} {
		if !regexp.MustCompile(stmt).Match(overlay) {
			t.Errorf("overlay lacks %s", stmt)
		}
	}
}
