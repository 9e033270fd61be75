//! Remote names

use super::*;

proptest! {
    #![proptest_config(budget(2000))]

    #[test]
    fn remote_names_are_exactly_the_contracts(name in prop_oneof![
        "[a-z0-9_-]{0,40}".boxed(),
        hostile_text().boxed(),
    ]) {
        let contract = (1..=32).contains(&name.len())
            && name.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-'));
        prop_assert_eq!(is_valid_remote_name(&name), contract);
    }
}
