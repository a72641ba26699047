//! The columns of `zfs list`: native properties (by name or by column
//! header in lower case), user properties, `name`, `space` and `all`.

use crate::dsprops::{self, DsProp, LIST_DEFAULT, PROPS, SPACE};
use crate::errors::CliError;
use crate::format::{split_list, Align};

/// One column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListColumn {
    /// The property (canonical name, or the user property).
    pub property: String,
    /// Header.
    pub header: String,
    /// Alignment.
    pub align: Align,
    /// Narrowest width.
    pub min_width: usize,
    /// The native property, if it is one.
    pub native: Option<&'static DsProp>,
}

impl ListColumn {
    fn native(p: &'static DsProp) -> ListColumn {
        ListColumn {
            property: p.name.to_string(),
            header: p.column.to_string(),
            align: p.align(),
            min_width: p.min_width,
            native: Some(p),
        }
    }

    fn user(name: &str) -> ListColumn {
        ListColumn {
            property: name.to_string(),
            header: name.to_ascii_uppercase(),
            align: Align::Left,
            min_width: name.len(),
            native: None,
        }
    }
}

/// "bad property list: invalid property 'x'" (a usage error).
pub fn bad_property(p: &str) -> CliError {
    CliError::Usage(format!("bad property list: invalid property '{p}'"))
}

/// A property name as `zfs` accepts it: native (by name or column), user.
pub fn property(p: &str) -> Result<String, CliError> {
    if dsprops::is_user(p) {
        return Ok(p.to_string());
    }
    dsprops::lookup(p)
        .map(|d| d.name.to_string())
        .ok_or_else(|| bad_property(p))
}

/// The columns of `-o` (default ones without it). The flag is true when
/// the list was exactly `space` (which hides snapshots unless `-t` says
/// otherwise).
pub fn list_columns(spec: Option<&str>) -> Result<(Vec<ListColumn>, bool), CliError> {
    let Some(spec) = spec else {
        let cols = LIST_DEFAULT
            .iter()
            .filter_map(|n| dsprops::lookup(n))
            .map(ListColumn::native)
            .collect();
        return Ok((cols, false));
    };
    if spec.is_empty() {
        return Err(CliError::Usage(
            "bad property list: no properties specified".into(),
        ));
    }
    if spec == "all" {
        let mut cols = vec![ListColumn::native(&PROPS[PROPS.len() - 1])];
        cols.extend(
            PROPS
                .iter()
                .filter(|p| p.name != "name")
                .map(ListColumn::native),
        );
        return Ok((cols, false));
    }
    let mut cols = Vec::new();
    for word in split_list(spec) {
        if word == "space" {
            cols.extend(
                SPACE
                    .iter()
                    .filter_map(|n| dsprops::lookup(n))
                    .map(ListColumn::native),
            );
        } else if dsprops::is_user(&word) {
            cols.push(ListColumn::user(&word));
        } else {
            let p = dsprops::lookup(&word).ok_or_else(|| bad_property(&word))?;
            cols.push(ListColumn::native(p));
        }
    }
    Ok((cols, spec == "space"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_lists() {
        let (c, space) = list_columns(None).unwrap();
        let h: Vec<&str> = c.iter().map(|c| c.header.as_str()).collect();
        assert_eq!(h, ["NAME", "USED", "AVAIL", "REFER", "MOUNTPOINT"]);
        assert!(!space);
        let (c, space) = list_columns(Some("space")).unwrap();
        let h: Vec<&str> = c.iter().map(|c| c.header.as_str()).collect();
        assert_eq!(
            h,
            [
                "NAME",
                "AVAIL",
                "USED",
                "USEDSNAP",
                "USEDDS",
                "USEDREFRESERV",
                "USEDCHILD"
            ]
        );
        assert!(space);
        let (c, _) = list_columns(Some("name,refer,com.x:tag")).unwrap();
        assert_eq!(c[1].property, "referenced");
        assert_eq!(c[2].header, "COM.X:TAG");
        assert!(
            matches!(list_columns(Some("name,bogus")), Err(CliError::Usage(m)) if m == "bad property list: invalid property 'bogus'")
        );
        assert_eq!(property("avail").unwrap(), "available");
    }
}
