// The Go driver gocql against millrace (CQL_HOST, CQL_PORT): SELECT DISTINCT,
// selectors and their column names, and lightweight transactions through
// MapScanCAS / ScanCAS, which read the existing row of a refused one.
// Prints [PASS]/[FAIL] per check and exits non-zero on any failure.
package main

import (
	"fmt"
	"os"
	"reflect"
	"sort"
	"strconv"
	"time"

	"github.com/gocql/gocql"
)

var failed, passed int

func check(name string, fn func() error) {
	if err := fn(); err != nil {
		failed++
		fmt.Printf("[FAIL] %s: %v\n", name, err)
		return
	}
	passed++
	fmt.Printf("[PASS] %s\n", name)
}

func main() {
	port, _ := strconv.Atoi(os.Getenv("CQL_PORT"))
	cluster := gocql.NewCluster(os.Getenv("CQL_HOST"))
	cluster.Port = port
	cluster.Timeout = 30 * time.Second
	cluster.ConnectTimeout = 30 * time.Second
	cluster.DisableInitialHostLookup = true
	session, err := cluster.CreateSession()
	if err != nil {
		fmt.Printf("[FAIL] connect: %v\n", err)
		os.Exit(1)
	}
	defer session.Close()
	for _, stmt := range []string{
		"DROP KEYSPACE IF EXISTS gocq",
		"CREATE KEYSPACE gocq WITH replication = {'class': 'SimpleStrategy', 'replication_factor': '1'}",
		"CREATE TABLE gocq.events (p int, c int, v text, PRIMARY KEY (p, c))",
		"CREATE TABLE gocq.kv (k text PRIMARY KEY, v int, w text)",
	} {
		if err := session.Query(stmt).Exec(); err != nil {
			fmt.Printf("[FAIL] setup %q: %v\n", stmt, err)
			os.Exit(1)
		}
	}
	for p := 1; p <= 4; p++ {
		for c := 0; c < 3; c++ {
			if err := session.Query("INSERT INTO gocq.events (p, c, v) VALUES (?, ?, ?)", p, c, fmt.Sprintf("v%d", c)).Exec(); err != nil {
				fmt.Printf("[FAIL] insert: %v\n", err)
				os.Exit(1)
			}
		}
	}

	check("SELECT DISTINCT p: one row per partition", func() error {
		iter := session.Query("SELECT DISTINCT p FROM gocq.events").PageSize(3).Iter()
		var p int
		var got []int
		for iter.Scan(&p) {
			got = append(got, p)
		}
		if err := iter.Close(); err != nil {
			return err
		}
		sort.Ints(got)
		if !reflect.DeepEqual(got, []int{1, 2, 3, 4}) {
			return fmt.Errorf("got %v", got)
		}
		return nil
	})

	check("selectors: token(p), ttl(v), writetime(v) column names and values", func() error {
		iter := session.Query("SELECT token(p), ttl(v), writetime(v) FROM gocq.events WHERE p = 1 AND c = 0").Iter()
		cols := iter.Columns()
		var names []string
		for _, c := range cols {
			names = append(names, c.Name)
		}
		if !reflect.DeepEqual(names, []string{"system.token(p)", "ttl(v)", "writetime(v)"}) {
			return fmt.Errorf("columns %v", names)
		}
		var tok int64
		var ttl *int
		var wt int64
		if !iter.Scan(&tok, &ttl, &wt) {
			return fmt.Errorf("no row: %v", iter.Close())
		}
		if tok != -4069959284402364209 || ttl != nil || wt <= 0 {
			return fmt.Errorf("token %d ttl %v writetime %d", tok, ttl, wt)
		}
		return iter.Close()
	})

	check("MapScanCAS: INSERT IF NOT EXISTS applied, then refused with the existing row", func() error {
		q := "INSERT INTO gocq.kv (k, v, w) VALUES (?, ?, ?) IF NOT EXISTS"
		prev := map[string]interface{}{}
		applied, err := session.Query(q, "a", 1, "one").MapScanCAS(prev)
		if err != nil || !applied {
			return fmt.Errorf("first insert: applied %v err %v", applied, err)
		}
		prev = map[string]interface{}{}
		applied, err = session.Query(q, "a", 2, "two").MapScanCAS(prev)
		if err != nil || applied {
			return fmt.Errorf("second insert: applied %v err %v", applied, err)
		}
		if prev["k"] != "a" || prev["v"] != 1 || prev["w"] != "one" {
			return fmt.Errorf("existing row %v", prev)
		}
		return nil
	})

	check("ScanCAS: UPDATE IF v = ? refused returns v, applied when it matches", func() error {
		var v int
		applied, err := session.Query("UPDATE gocq.kv SET w = ? WHERE k = ? IF v = ?", "uno", "a", 5).ScanCAS(&v)
		if err != nil || applied || v != 1 {
			return fmt.Errorf("refused: applied %v v %d err %v", applied, v, err)
		}
		applied, err = session.Query("UPDATE gocq.kv SET w = ? WHERE k = ? IF v = ?", "uno", "a", 1).ScanCAS()
		if err != nil || !applied {
			return fmt.Errorf("matching: applied %v err %v", applied, err)
		}
		var w string
		if err := session.Query("SELECT w FROM gocq.kv WHERE k = ?", "a").Scan(&w); err != nil || w != "uno" {
			return fmt.Errorf("w %q err %v", w, err)
		}
		return nil
	})

	check("MapScanCAS: DELETE IF EXISTS on a missing row is not applied", func() error {
		prev := map[string]interface{}{}
		applied, err := session.Query("DELETE FROM gocq.kv WHERE k = ? IF EXISTS", "missing").MapScanCAS(prev)
		if err != nil || applied {
			return fmt.Errorf("applied %v err %v", applied, err)
		}
		return nil
	})

	check("SELECT DISTINCT on a regular column: Cassandra's error", func() error {
		err := session.Query("SELECT DISTINCT v FROM gocq.events").Exec()
		want := "SELECT DISTINCT queries must only request partition key columns and/or static columns (not v)"
		if err == nil || err.Error() != want {
			return fmt.Errorf("got %v", err)
		}
		return nil
	})

	fmt.Printf("%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		os.Exit(1)
	}
}
