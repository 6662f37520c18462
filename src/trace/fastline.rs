//! A hand-written parser for the one shape the writer gives a schema-2 epoch line, because
//! a day holds 3.46 M of them and `serde_json` spends most of `show`'s time on them.
//!
//! It reads exactly what `serde_json::to_string` writes for `codec::Line`: keys in field
//! order, no spaces, optional keys left out. Anything else — spaces, another key order, an
//! unknown key, more windows than it keeps, a number it cannot read — makes it give up
//! (`None`), and the caller parses the line with `serde_json` instead, which then accepts it
//! or names what is wrong. So it changes how fast a line is read, never what a line means.

/// Window counts kept without allocating; more makes the line go to `serde_json`.
pub const MAX_WINDOWS: usize = 16;

/// The fields of one epoch line, as written.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct FastLine {
    pub n: u64,
    pub b: Option<f64>,
    pub e: f64,
    pub d: u64,
    pub w: u64,
    pub c: u64,
    pub u: f64,
    pub s: f64,
    pub windows: [u64; MAX_WINDOWS],
    pub window_count: usize,
    pub f: Option<u64>,
    pub k: Option<[f64; 3]>,
    /// Dom-0 CPU and, when present, the save helper's.
    pub z: Option<(f64, Option<f64>)>,
}

impl FastLine {
    pub fn windows(&self) -> &[u64] {
        &self.windows[..self.window_count]
    }
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn eat(&mut self, expected: &[u8]) -> bool {
        if self.bytes[self.at..].starts_with(expected) {
            self.at += expected.len();
            true
        } else {
            false
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn unsigned(&mut self) -> Option<u64> {
        let start = self.at;
        let mut value: u64 = 0;
        while let Some(digit @ b'0'..=b'9') = self.peek() {
            value = value
                .checked_mul(10)?
                .checked_add(u64::from(digit - b'0'))?;
            self.at += 1;
        }
        let digits = self.at - start;
        // JSON has no leading zeros; serde_json would refuse "01", so leave it the error.
        if digits == 0 || (digits > 1 && self.bytes[start] == b'0') {
            return None;
        }
        Some(value)
    }

    /// A JSON number as f64, correctly rounded (`exact_decimal`, else the standard library).
    fn float(&mut self) -> Option<f64> {
        let start = self.at;
        while let Some(b'0'..=b'9' | b'.' | b'e' | b'E' | b'-' | b'+') = self.peek() {
            self.at += 1;
        }
        let text = &self.bytes[start..self.at];
        // Only plain JSON numbers: Rust would also take "inf", ".5" or "5.", JSON does not.
        let first = *text.first()?;
        if !(first.is_ascii_digit() || first == b'-') || text.ends_with(b".") {
            return None;
        }
        let value = match exact_decimal(text) {
            Some(value) => value,
            None => std::str::from_utf8(text).ok()?.parse().ok()?,
        };
        value.is_finite().then_some(value)
    }

    fn key_unsigned(&mut self, key: &[u8]) -> Option<Option<u64>> {
        if self.eat(key) {
            self.unsigned().map(Some)
        } else {
            Some(None)
        }
    }

    fn key_float(&mut self, key: &[u8]) -> Option<Option<f64>> {
        if self.eat(key) {
            self.float().map(Some)
        } else {
            Some(None)
        }
    }

    /// `[a,b,...]` of floats, at most `N`; the count read.
    fn float_array<const N: usize>(&mut self) -> Option<([f64; N], usize)> {
        let mut values = [0.0; N];
        if !self.eat(b"[") {
            return None;
        }
        let mut count = 0;
        loop {
            *values.get_mut(count)? = self.float()?;
            count += 1;
            if self.eat(b"]") {
                return Some((values, count));
            }
            if !self.eat(b",") {
                return None;
            }
        }
    }
}

/// Powers of ten a double holds exactly.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// A decimal whose digits fit a double's mantissa and whose power of ten is exact, the shape
/// of every time and CPU figure the writer rounds to the microsecond: one multiplication or
/// division of two exact doubles, which IEEE rounds correctly (Clinger's fast path), so the
/// value is the one `str::parse` gives. Anything else: `None`, and `str::parse` does it.
fn exact_decimal(text: &[u8]) -> Option<f64> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let mut mantissa: u64 = 0;
    let mut fraction_digits: i32 = 0;
    let mut in_fraction = false;
    let mut at = 0;
    while let Some(&byte) = digits.get(at) {
        match byte {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u64::from(byte - b'0');
                if mantissa >= 1 << 53 {
                    return None;
                }
                fraction_digits += i32::from(in_fraction);
            }
            b'.' if !in_fraction => in_fraction = true,
            b'e' | b'E' => break,
            _ => return None,
        }
        at += 1;
    }
    let exponent: i32 = match digits.get(at) {
        None => 0,
        Some(_) => std::str::from_utf8(&digits[at + 1..]).ok()?.parse().ok()?,
    };
    let power = exponent.checked_sub(fraction_digits)?;
    let scale = *POW10.get(power.unsigned_abs() as usize)?;
    let magnitude = if power < 0 {
        mantissa as f64 / scale
    } else {
        mantissa as f64 * scale
    };
    Some(if negative { -magnitude } else { magnitude })
}

/// The line's JSON object (after "- "), or `None` when it is not in the writer's shape.
pub fn parse(json: &[u8]) -> Option<FastLine> {
    let mut cursor = Cursor { bytes: json, at: 0 };
    let mut line = FastLine::default();
    if !cursor.eat(b"{\"n\":") {
        return None;
    }
    line.n = cursor.unsigned()?;
    line.b = cursor.key_float(b",\"b\":")?;
    if !cursor.eat(b",\"e\":") {
        return None;
    }
    line.e = cursor.float()?;
    for (key, slot) in [
        (&b",\"d\":"[..], &mut line.d),
        (b",\"w\":", &mut line.w),
        (b",\"c\":", &mut line.c),
    ] {
        if !cursor.eat(key) {
            return None;
        }
        *slot = cursor.unsigned()?;
    }
    for (key, slot) in [(&b",\"u\":"[..], &mut line.u), (b",\"s\":", &mut line.s)] {
        if !cursor.eat(key) {
            return None;
        }
        *slot = cursor.float()?;
    }
    if cursor.eat(b",\"W\":[") {
        loop {
            *line.windows.get_mut(line.window_count)? = cursor.unsigned()?;
            line.window_count += 1;
            if cursor.eat(b"]") {
                break;
            }
            if !cursor.eat(b",") {
                return None;
            }
        }
    }
    line.f = cursor.key_unsigned(b",\"f\":")?;
    if cursor.eat(b",\"k\":") {
        let (k, count) = cursor.float_array::<3>()?;
        if count != 3 {
            return None;
        }
        line.k = Some(k);
    }
    if cursor.eat(b",\"z\":") {
        // One or two numbers; any other count goes to the careful path, which names it.
        let (z, count) = cursor.float_array::<2>()?;
        line.z = Some((z[0], (count == 2).then_some(z[1])));
    }
    (cursor.eat(b"}") && cursor.at == json.len()).then_some(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_field_the_writer_writes() {
        let line = parse(
            br#"{"n":7,"b":0.1,"e":0.200143,"d":812,"w":4096,"c":1,"u":0.0123,"s":0.41,"W":[1510,2000],"f":3,"k":[0.1,0.2,1e-6],"z":[0.5,0.25]}"#,
        )
        .expect("the writer's shape");
        assert_eq!(line.n, 7);
        assert_eq!(line.b, Some(0.1));
        assert_eq!(line.e, 0.200143);
        assert_eq!((line.d, line.w, line.c), (812, 4096, 1));
        assert_eq!((line.u, line.s), (0.0123, 0.41));
        assert_eq!(line.windows(), &[1510, 2000]);
        assert_eq!(line.f, Some(3));
        assert_eq!(line.k, Some([0.1, 0.2, 1e-6]));
        assert_eq!(line.z, Some((0.5, Some(0.25))));
        let short = parse(br#"{"n":0,"e":0.025,"d":1,"w":0,"c":0,"u":0.0,"s":0.1}"#).unwrap();
        assert_eq!(
            (short.b, short.window_count, short.f, short.z),
            (None, 0, None, None)
        );
    }

    #[test]
    fn decimals_read_as_the_standard_library_reads_them() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let value = (x % 100_000_000_000) as f64 / 1e6;
            for text in [
                format!("{value}"),
                serde_json::to_string(&value).unwrap(),
                format!("{}e-3", x % 1_000_000),
                format!("-{}.{}", x % 1000, x % 977),
            ] {
                let expected: f64 = text.parse().unwrap();
                let got = exact_decimal(text.as_bytes()).unwrap_or(expected);
                assert_eq!(got.to_bits(), expected.to_bits(), "{text}");
            }
        }
        assert_eq!(exact_decimal(b"12345678901234567890.5"), None);
        assert_eq!(exact_decimal(b"1e300"), None);
    }

    #[test]
    fn gives_up_on_anything_else() {
        let odd_lines: [&[u8]; 13] = [
            br#"{"n": 0,"e":0.025,"d":1,"w":0,"c":0,"u":0.0,"s":0.1}"#,
            br#"{"e":0.025,"n":0,"d":1,"w":0,"c":0,"u":0.0,"s":0.1}"#,
            br#"{"n":0,"e":0.025,"d":1,"w":0,"c":0,"u":0.0,"s":0.1,"x":1}"#,
            br#"{"n":0,"e":0.025,"d":-1,"w":0,"c":0,"u":0.0,"s":0.1}"#,
            br#"{"n":0,"e":NaN,"d":1,"w":0,"c":0,"u":0.0,"s":0.1}"#,
            br#"{"n":0,"e":null,"d":1,"w":0,"c":0,"u":0.0,"s":0.1}"#,
            br#"{"n":01,"e":0.025,"d":1,"w":0,"c":0,"u":0.0,"s":0.1}"#,
            br#"{"n":0,"e":5.,"d":1,"w":0,"c":0,"u":0.0,"s":0.1}"#,
            br#"{"n":0,"e":0.025,"d":99999999999999999999,"w":0,"c":0,"u":0.0,"s":0.1}"#,
            br#"{"n":0,"e":0.025,"d":1,"w":0,"c":0,"u":0.0,"s":0.1,"z":[1,2,3]}"#,
            br#"{"n":0,"e":0.025,"d":1,"w":0,"c":0,"u":0.0,"s":0.1} "#,
            br#"{"n":0,"e":0.025,"d":1,"w":0,"c":0,"u":0.0,"s":0.1,"W":[]}"#,
            br#"{"n":0,"e":0.025,"d":1,"w":0,"c":0,"u":0.0}"#,
        ];
        for odd in odd_lines {
            assert_eq!(parse(odd), None, "{}", String::from_utf8_lossy(odd));
        }
    }
}
