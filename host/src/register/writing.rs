//! The register written out: Markdown to read and complete, CSV (one row per activity) to
//! put into the organisation's own record.

use super::{Activity, ProcessingRegister, TO_BE_COMPLETED};

/// The CSV's columns, one row per processing activity.
pub const CSV_COLUMNS: [&str; 15] = [
    "activity",
    "source",
    "purpose",
    "lawful_basis",
    "data_subjects",
    "data_categories",
    "special_categories",
    "recipients",
    "transfers_to_third_countries",
    "retention",
    "controller",
    "controller_contact",
    "representative",
    "data_protection_officer",
    "security_measures",
];

/// One line of text: a list item or a table cell holds no line break, and a cell no `|`.
fn line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn cell(text: &str) -> String {
    line(text).replace('|', "\\|")
}

fn listed(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join("; ")
    }
}

impl ProcessingRegister {
    /// The register as Markdown.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        out.push_str("# Record of processing activities (GDPR Art. 30(1))\n\n");
        out.push_str(&format!(
            "Made by Privacy Guard from its configuration on {}. It covers what the consent configuration knows; every \"{TO_BE_COMPLETED}\" is for the controller to fill in (listed at the end).\n\n",
            self.generated_on
        ));
        let controller = &self.controller;
        out.push_str("## Controller\n\n| | |\n|---|---|\n");
        for (field, value) in [
            ("Name", &controller.name),
            ("Postal address", &controller.postal_address),
            ("Contact", &controller.contact),
            ("Representative (Art. 27)", &controller.representative),
            (
                "Data-protection officer",
                &controller.data_protection_officer,
            ),
        ] {
            out.push_str(&format!("| {field} | {} |\n", cell(value)));
        }
        out.push_str("\n## Processing activities\n");
        for (number, activity) in self.activities.iter().enumerate() {
            out.push_str(&format!(
                "\n### {}. {}\n\n",
                number + 1,
                line(&activity.name)
            ));
            for (field, value) in activity_fields(activity) {
                out.push_str(&format!("- **{field}:** {}\n", line(&value)));
            }
        }
        out.push_str("\n## Personal data per module (field classification)\n\n");
        out.push_str("| Module | Personal | Essential | Sensitive (Art. 9) | Encrypted at rest | Kept on erasure |\n|---|---|---|---|---|---|\n");
        for data in &self.data {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                cell(&data.module),
                cell(&listed(&data.personal)),
                cell(&listed(&data.essential)),
                cell(&listed(&data.sensitive)),
                cell(&listed(&data.encrypted)),
                cell(&listed(&data.retained_on_erasure)),
            ));
        }
        out.push_str("\n## Security measures (Art. 32)\n\n");
        for measure in &self.security_measures {
            out.push_str(&format!("- {}\n", line(measure)));
        }
        out.push_str(&format!("\n## {}\n\n", capitalised(TO_BE_COMPLETED)));
        for blank in &self.to_be_completed {
            out.push_str(&format!("- [ ] {}\n", line(blank)));
        }
        out
    }

    /// The register as CSV: a header of [`CSV_COLUMNS`], then a row per activity with the
    /// controller and the security measures repeated, lists joined by `; `.
    pub fn to_csv(&self) -> Result<String, csv::Error> {
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(CSV_COLUMNS)?;
        let controller = &self.controller;
        let security = self.security_measures.join("; ");
        for activity in &self.activities {
            writer.write_record([
                activity.name.as_str(),
                &activity.source,
                &activity.purpose,
                &activity.lawful_basis,
                &activity.data_subjects,
                &listed(&activity.data_categories),
                &listed(&activity.special_categories),
                &activity.recipients,
                &activity.transfers,
                &activity.retention,
                &format!("{}, {}", controller.name, controller.postal_address),
                &controller.contact,
                &controller.representative,
                &controller.data_protection_officer,
                &security,
            ])?;
        }
        let bytes = writer
            .into_inner()
            .map_err(|error| csv::Error::from(error.into_error()))?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

fn activity_fields(activity: &Activity) -> [(&'static str, String); 9] {
    [
        ("Source in the configuration", activity.source.clone()),
        ("Purpose", activity.purpose.clone()),
        ("Lawful basis", activity.lawful_basis.clone()),
        ("Data subjects", activity.data_subjects.clone()),
        (
            "Categories of personal data",
            listed(&activity.data_categories),
        ),
        (
            "Special categories (Art. 9)",
            listed(&activity.special_categories),
        ),
        ("Recipients", activity.recipients.clone()),
        ("Transfers to third countries", activity.transfers.clone()),
        ("Retention", activity.retention.clone()),
    ]
}

fn capitalised(text: &str) -> String {
    let mut characters = text.chars();
    characters
        .next()
        .map(|first| first.to_uppercase().chain(characters).collect())
        .unwrap_or_default()
}
