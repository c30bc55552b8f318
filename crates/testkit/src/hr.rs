//! A deterministic HR export for benchmarks: names with diacritics, apostrophes and spaces,
//! common names colliding as in a real hospital, supervisors among the first hundred rows.

const FIRST: &[&str] = &[
    "John",
    "Mary",
    "José",
    "Zoë",
    "Łukasz",
    "Anne",
    "Peter",
    "Li",
    "Fatima",
    "Olga",
    "Ahmed",
    "Sara",
    "Kim",
    "Noah",
    "Emma",
    "Siobhan",
    "Mary-Jane",
    "Raj",
    "Chen",
    "Ana",
];
const LAST: &[&str] = &[
    "Smith",
    "Núñez",
    "O'Connor",
    "de la Cruz",
    "Ångström",
    "Lee",
    "Khan",
    "García",
    "Müller",
    "Nguyen",
    "Brown",
    "Wilson",
    "Żółć",
    "Patel",
    "Kowalski",
    "Okafor",
    "Johansson",
    "Rossi",
];
const DEPARTMENTS: &[&str] = &[
    "Cardiology",
    "Oncology",
    "Pharmacy",
    "Radiology",
    "Emergency",
    "Pediatrics",
    "Surgery",
    "Nursing",
    "IT",
    "Facilities",
    "Laboratory",
    "Human Resources",
];
const CATEGORIES: &[&str] = &[
    "clinician",
    "nurse",
    "administrative",
    "support",
    "contractor",
];

/// A deterministic HR export: common names collide often, as in a real hospital.
pub fn hr_export(rows: usize) -> String {
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let mut out = String::from(
        "employee_id,first,middle,last,preferred,category,department,supervisor_employee_id,status\n",
    );
    for i in 0..rows {
        let first = FIRST[next(FIRST.len())];
        let last = LAST[next(LAST.len())];
        // Most names are made distinct by a number, as real ones are by their variety.
        let tag = next(4000);
        let middle = if next(3) == 0 { "Alex" } else { "" };
        let supervisor = if i >= 100 {
            format!("E{}", next(100))
        } else {
            String::new()
        };
        out.push_str(&format!(
            "E{i},{first},{middle},{last}{tag},,{},{},{supervisor},\n",
            CATEGORIES[next(CATEGORIES.len())],
            DEPARTMENTS[next(DEPARTMENTS.len())],
        ));
    }
    out
}
