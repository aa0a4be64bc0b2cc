//! Tags: TagResource, UntagResource, ListTagsOfResource (and the `Tags` of
//! CreateTable).
//!
//! Tags are key-value labels on a table, addressed by the table's ARN. The
//! rules (reference §5.2): at most 50 per table; keys 1–128 characters,
//! values 0–256; letters, digits, whitespace and `+ - = . _ : / @`; the
//! `aws:` prefix is reserved. Re-tagging a key overwrites its value.
//! DynamoDB applies tag changes eventually; here they are immediate.
//!
//! Too many tags is a `ValidationException` in CreateTable (the request is
//! invalid as a whole) and a `LimitExceededException` in TagResource (the
//! table would exceed its quota). A `ResourceArn` that is not an ARN at
//! all is refused as DynamoDB refuses it, before any table lookup: with
//! `AccessDeniedException` (authorization cannot name the resource),
//! message `Incorrect resource identifier` (our wording; the reference
//! records none). A well-formed ARN of no table is
//! `ResourceNotFoundException`.

use serde_json::{Value as Json, json};

use crate::decode::{Checks, Members};
use crate::error::{ApiError, ErrorKind};
use crate::registry::{Reply, RequestContext};

pub const TAGS_PER_TABLE_MAX: usize = 50;
pub const TAG_KEY_CHARS_MAX: usize = 128;
pub const TAG_VALUE_CHARS_MAX: usize = 256;
pub const RESOURCE_ARN_CHARS_MAX: usize = 1283;
/// Reserved for tags AWS sets itself.
pub const RESERVED_TAG_PREFIX: &str = "aws:";

const INVALID: &str = "One or more parameter values were invalid:";

/// One tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// Decodes a list of `{Key, Value}` (path `path`), `None` when absent.
pub fn decode_tags(
    input: &mut Members,
    checks: &mut Checks,
    member: &str,
    path: &str,
) -> Result<Vec<Tag>, ApiError> {
    let Some(list) = input.structures(member)? else {
        return Ok(Vec::new());
    };
    let mut tags = Vec::with_capacity(list.len());
    for (index, mut tag) in list.into_iter().enumerate() {
        let at = format!("{path}.{}.member", index + 1);
        let key = checks.required(&format!("{at}.key"), tag.string("Key")?);
        let value = checks.required(&format!("{at}.value"), tag.string("Value")?);
        if let Some(key) = &key {
            checks.length(&format!("{at}.key"), key, 1, TAG_KEY_CHARS_MAX);
        }
        if let Some(value) = &value {
            checks.length(&format!("{at}.value"), value, 0, TAG_VALUE_CHARS_MAX);
        }
        if let (Some(key), Some(value)) = (key, value) {
            tags.push(Tag { key, value });
        }
    }
    Ok(tags)
}

/// The semantic rules of tags to add: characters, reserved prefix, count.
pub fn check_tags(tags: &[Tag]) -> Result<(), ApiError> {
    let allowed = |text: &str| {
        text.chars()
            .all(|c| c.is_alphanumeric() || c.is_whitespace() || "+-=._:/@".contains(c))
    };
    for tag in tags {
        if tag.key.starts_with(RESERVED_TAG_PREFIX) {
            return Err(ApiError::validation(format!(
                "{INVALID} Tag keys starting with '{RESERVED_TAG_PREFIX}' are reserved for system use: {}",
                tag.key
            )));
        }
        if !allowed(&tag.key) || !allowed(&tag.value) {
            return Err(ApiError::validation(format!(
                "{INVALID} Tag {} contains characters that are not allowed",
                tag.key
            )));
        }
    }
    if tags.len() > TAGS_PER_TABLE_MAX {
        return Err(too_many_tags());
    }
    Ok(())
}

/// The tags of a CreateTable: the same rules, but too many of them make
/// the request invalid.
pub fn check_create_tags(tags: &[Tag]) -> Result<(), ApiError> {
    if tags.len() > TAGS_PER_TABLE_MAX {
        return Err(ApiError::validation(format!(
            "{INVALID} The number of tags exceeds the limit of {TAGS_PER_TABLE_MAX} per resource: {}",
            tags.len()
        )));
    }
    check_tags(tags)
}

fn too_many_tags() -> ApiError {
    ApiError::new(
        ErrorKind::LimitExceeded,
        format!("The number of tags exceeds the limit of {TAGS_PER_TABLE_MAX} per resource"),
    )
}

/// `ResourceArn`: required, at most 1283 characters.
fn resource_arn(input: &mut Members, checks: &mut Checks) -> Result<Option<String>, ApiError> {
    let arn = checks.required("resourceArn", input.string("ResourceArn")?);
    if let Some(arn) = &arn {
        checks.length("resourceArn", arn, 1, RESOURCE_ARN_CHARS_MAX);
    }
    Ok(arn)
}

/// The table an ARN names: malformed → AccessDeniedException, unknown →
/// ResourceNotFoundException.
fn table_of_arn<'a>(ctx: &RequestContext, arn: &'a str) -> Result<&'a str, ApiError> {
    let well_formed = arn.starts_with("arn:") && arn.split(':').count() >= 6;
    if !well_formed {
        return Err(ApiError::new(
            ErrorKind::AccessDenied,
            "Incorrect resource identifier",
        ));
    }
    let not_found = || {
        ApiError::new(
            ErrorKind::ResourceNotFound,
            format!("Requested resource not found: ResourceArn: {arn} not found"),
        )
    };
    let name = ctx.backend.table_name_of_arn(arn).ok_or_else(not_found)?;
    match ctx.backend.catalog.get(name)? {
        Some(_) => Ok(name),
        None => Err(not_found()),
    }
}

pub fn tag_resource(ctx: &RequestContext, input: Json) -> Result<Reply, ApiError> {
    let mut input = Members::from_json(input)?;
    let mut checks = Checks::default();
    let arn = resource_arn(&mut input, &mut checks)?;
    let present = input.has("Tags");
    let tags = decode_tags(&mut input, &mut checks, "Tags", "tags")?;
    if !present {
        checks.required::<()>("tags", None);
    }
    checks.finish()?;
    let arn = arn.unwrap_or_default();
    let name = table_of_arn(ctx, &arn)?;
    check_tags(&tags)?;
    ctx.backend.catalog.update(name, |meta| {
        for tag in tags {
            meta.tags.insert(tag.key, tag.value);
        }
        if meta.tags.len() > TAGS_PER_TABLE_MAX {
            return Err(too_many_tags());
        }
        Ok(())
    })?;
    Ok(Reply::Empty)
}

pub fn untag_resource(ctx: &RequestContext, input: Json) -> Result<Reply, ApiError> {
    let mut input = Members::from_json(input)?;
    let mut checks = Checks::default();
    let arn = resource_arn(&mut input, &mut checks)?;
    let keys = checks.required("tagKeys", input.strings("TagKeys")?);
    for (index, key) in keys.iter().flatten().enumerate() {
        checks.length(
            &format!("tagKeys.{}.member", index + 1),
            key,
            1,
            TAG_KEY_CHARS_MAX,
        );
    }
    checks.finish()?;
    let arn = arn.unwrap_or_default();
    let name = table_of_arn(ctx, &arn)?;
    ctx.backend.catalog.update(name, |meta| {
        for key in keys.iter().flatten() {
            meta.tags.remove(key);
        }
        Ok(())
    })?;
    Ok(Reply::Empty)
}

pub fn list_tags_of_resource(ctx: &RequestContext, input: Json) -> Result<Reply, ApiError> {
    let mut input = Members::from_json(input)?;
    let mut checks = Checks::default();
    let arn = resource_arn(&mut input, &mut checks)?;
    // At most 50 tags: one page always holds them all.
    let _ = input.string("NextToken")?;
    checks.finish()?;
    let arn = arn.unwrap_or_default();
    let name = table_of_arn(ctx, &arn)?;
    let table = ctx
        .backend
        .catalog
        .get(name)?
        .ok_or_else(ApiError::resource_not_found)?;
    let tags: Vec<Json> = table
        .meta()?
        .tags
        .iter()
        .map(|(key, value)| json!({"Key": key, "Value": value}))
        .collect();
    Ok(Reply::Json(json!({ "Tags": tags })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(key: &str, value: &str) -> Tag {
        Tag {
            key: key.into(),
            value: value.into(),
        }
    }

    #[test]
    fn tag_rules() {
        assert!(check_tags(&[tag("env", "prod"), tag("a b+c=d.e_f:g/h@i", "")]).is_ok());
        assert!(check_tags(&[tag("aws:x", "y")]).is_err());
        assert!(check_tags(&[tag("a*b", "y")]).is_err());
        let many: Vec<Tag> = (0..51).map(|i| tag(&format!("k{i}"), "v")).collect();
        assert_eq!(
            check_tags(&many).unwrap_err().kind,
            ErrorKind::LimitExceeded
        );
        assert_eq!(
            check_create_tags(&many).unwrap_err().kind,
            ErrorKind::Validation
        );
    }
}
