use super::*;
use crate::testing::{random_bytes, sql};

#[test]
fn compressibility_is_judged_on_slices() {
    assert!(looks_compressible(&sql(BLOCK)));
    assert!(!looks_compressible(&random_bytes(BLOCK, 1)));
    assert!(!looks_compressible(&random_bytes(4 * PROBE + 1, 1)));
    // Small entries are deflated directly (and stored if that does not pay).
    assert!(looks_compressible(&random_bytes(4 * PROBE, 1)));
    // A text header alone does not make a file compressible.
    let mut pdf = sql(PROBE);
    pdf.extend(random_bytes(BLOCK, 2));
    assert!(!looks_compressible(&pdf));
}
