//! Command-line values that are the plugin's own types: a GEnum property's
//! values (zcwaylandsink's `path-preference`, the allocator's `backend`)
//! parsed by their nicks, so the programs never restate the plugin's
//! choices as strings of their own.

use clap::builder::{PossibleValuesParser, TypedValueParser};
use gst::glib;
use gst::glib::prelude::*;

/// A clap parser for the GEnum `T` by its nicks; `--help` lists them.
pub fn enum_parser<T>() -> impl TypedValueParser<Value = T>
where
    T: StaticType + for<'a> glib::value::FromValue<'a> + Clone + Send + Sync + 'static,
{
    PossibleValuesParser::new(nicks::<T>()).try_map(|nick: String| {
        by_nick::<T>(&nick).ok_or_else(|| {
            format!(
                "`{nick}` is not a value of {}; use one of {}",
                T::static_type().name(),
                nicks::<T>().join(", ")
            )
        })
    })
}

/// The nicks of the GEnum `T`, in declaration order.
pub fn nicks<T: StaticType>() -> Vec<String> {
    glib::EnumClass::with_type(T::static_type())
        .map(|class| class.values().iter().map(|v| v.nick().to_owned()).collect())
        .unwrap_or_default()
}

/// The value of the GEnum `T` whose nick is `nick`.
pub fn by_nick<T>(nick: &str) -> Option<T>
where
    T: StaticType + for<'a> glib::value::FromValue<'a>,
{
    glib::EnumClass::with_type(T::static_type())?
        .to_value_by_nick(nick)?
        .get::<T>()
        .ok()
}

/// The nick of a GEnum value, for messages.
pub fn nick<T>(value: T) -> String
where
    T: StaticType + ToValue,
{
    glib::EnumValue::from_value(&value.to_value())
        .map(|(_, v)| v.nick().to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use gstzerocopy::allocator::BackendSetting;
    use gstzerocopy::zcwaylandsink::PathPreference;

    #[test]
    fn the_plugins_enums_parse_by_nick_and_print_back() {
        assert_eq!(nicks::<PathPreference>(), ["auto", "dmabuf", "shm", "copy"]);
        assert_eq!(by_nick::<PathPreference>("shm"), Some(PathPreference::Shm));
        assert_eq!(
            by_nick::<BackendSetting>("udmabuf"),
            Some(BackendSetting::Udmabuf)
        );
        assert_eq!(by_nick::<BackendSetting>("floppy"), None);
        assert_eq!(nick(PathPreference::DmaBuf), "dmabuf");
        let command = clap::Command::new("t").arg(
            clap::Arg::new("path")
                .long("path")
                .value_parser(enum_parser::<PathPreference>()),
        );
        let matches = command
            .clone()
            .try_get_matches_from(["t", "--path", "copy"])
            .expect("parses");
        assert_eq!(
            matches.get_one::<PathPreference>("path"),
            Some(&PathPreference::Copy)
        );
        let error = command
            .try_get_matches_from(["t", "--path", "fast"])
            .expect_err("refused");
        assert!(
            error.to_string().contains("auto, dmabuf, shm, copy"),
            "{error}"
        );
    }
}
