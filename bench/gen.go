package main

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"time"
)

// licenseColumns is the header of the generated program-license files: every
// column bulksync knows for the kind except transaction_id, which rosters
// rarely carry (bulksync derives one per row).
var licenseColumns = []string{
	"platform_key", "platform_org", "program_key", "name", "count", "started", "expired",
	"active", "metadata", "enrollment_config", "source", "external_id",
}

// platformNames are the tenants rows are spread over (the first
// genConfig.Platforms of them).
var platformNames = []string{
	"northwind-learning", "globex-academy", "initech-university", "umbrella-training",
	"stark-institute", "wayne-foundation", "tyrell-college", "cyberdyne-school",
}

// programTitles and the terms below make the program keys and names.
var programTitles = []string{
	"Data Science Foundations", "Applied Machine Learning", "Cloud Architecture",
	"Cybersecurity Essentials", "Product Management", "Financial Modelling",
	"Leadership in Practice", "Python for Analysts", "UX Research Methods",
	"Supply Chain Analytics", "Generative AI for Business", "Project Management Professional",
}

var (
	terms       = []string{"2024-spring", "2024-fall", "2025-spring", "2025-fall"}
	customers   = []string{"Contoso", "Fabrikam", "Litware", "Tailspin Toys", "Adventure Works", "Wide World Importers", "Woodgrove Bank", "Proseware"}
	sources     = []string{"salesforce", "salesforce", "salesforce", "hubspot", "manual"}
	tiers       = []string{"bronze", "silver", "gold", "platinum"}
	seatPolicys = []string{"first_come", "manager_approval", "invite_only"}
)

// genConfig describes a generated file.
type genConfig struct {
	Rows      int    // data rows
	Platforms int    // tenants the rows are spread over, 1 to len(platformNames)
	Seed      uint64 // the same seed gives the same file
	IDPrefix  string // starts every external_id, so that files do not share keys
}

// generate writes a program-license CSV of cfg.Rows valid rows with
// realistic values to path and returns its size in bytes. Rows mix the
// accepted date forms, leave optional cells empty at realistic rates and
// carry JSON objects in quoted cells.
func generate(path string, cfg genConfig) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	w := csv.NewWriter(bw)
	if err := w.Write(licenseColumns); err != nil {
		return 0, err
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x62756c6b73796e63))
	platforms := min(max(cfg.Platforms, 1), len(platformNames))
	base := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)
	rec := make([]string, len(licenseColumns))
	for i := range cfg.Rows {
		platform := platformNames[i%platforms]
		p := rng.IntN(len(programTitles))
		term := terms[rng.IntN(len(terms))]
		customer := customers[rng.IntN(len(customers))]
		started := base.Add(time.Duration(rng.IntN(3*365)) * 24 * time.Hour).Add(time.Duration(rng.IntN(24)) * time.Hour)
		rec[0] = platform
		rec[1] = ""
		if rng.IntN(4) == 0 {
			rec[1] = platform
		}
		rec[2] = fmt.Sprintf("program-v1:%s+p%03d+%s", platform, p, term)
		rec[3] = programTitles[p] + " (" + term + ") seats for " + customer
		rec[4] = strconv.Itoa(seatCount(rng))
		switch rng.IntN(10) {
		case 0, 1:
			rec[5] = started.Format(time.DateOnly)
		case 2:
			rec[5] = started.Format(time.DateTime)
		default:
			rec[5] = started.Format(time.RFC3339)
		}
		rec[6] = ""
		if rng.IntN(5) != 0 {
			rec[6] = started.AddDate(1, 0, 0).Format(time.RFC3339)
		}
		rec[7] = "true"
		switch rng.IntN(20) {
		case 0:
			rec[7] = "false"
		case 1:
			rec[7] = ""
		case 2:
			rec[7] = "1"
		}
		rec[8] = ""
		if rng.IntN(10) < 7 {
			rec[8] = fmt.Sprintf(`{"cost_center": "ENG-%04d", "contract": "C-%d-%05d", "tier": %q}`,
				rng.IntN(10000), started.Year(), rng.IntN(100000), tiers[rng.IntN(len(tiers))])
		}
		rec[9] = ""
		if rng.IntN(10) < 3 {
			rec[9] = fmt.Sprintf(`{"auto_enroll": %t, "seat_policy": %q}`, rng.IntN(2) == 0, seatPolicys[rng.IntN(len(seatPolicys))])
		}
		rec[10] = sources[rng.IntN(len(sources))]
		rec[11] = fmt.Sprintf("%s-%s-%08d", cfg.IDPrefix, platform[:4], i+1)
		if err := w.Write(rec); err != nil {
			return 0, err
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return 0, err
	}
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), f.Close()
}

// seatCount draws a seat pool size: mostly tens, sometimes thousands.
func seatCount(rng *rand.Rand) int {
	switch rng.IntN(10) {
	case 0:
		return 1000 + rng.IntN(9000)
	case 1, 2:
		return 100 + rng.IntN(900)
	default:
		return 5 + rng.IntN(95)
	}
}
