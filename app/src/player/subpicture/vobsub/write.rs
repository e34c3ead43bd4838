//! Writing SPUs, for zc's tests: no encoder for DVD subtitles ships with
//! GStreamer, so the VM tests mux these into clips.

use super::command;

/// An SPU showing `rows` (pixel values 0-3, every row as long) at
/// `(x, y)`, the values taking palette entries `colours` at alphas
/// `alpha`, from `show` to `hide` after the buffer's timestamp (in the
/// delay units of 1024 / 90 kHz): what [`super::decode`] reads back. zc's tests
/// mux it into clips; no encoder for DVD subtitles ships with GStreamer.
/// `rows` should hold at least one pixel.
pub fn encode(
    (x, y): (u32, u32),
    rows: &[Vec<u8>],
    colours: [u8; 4],
    alpha: [u8; 4],
    (show, hide): (u16, u16),
) -> Vec<u8> {
    let width = rows.first().map_or(0, Vec::len) as u32;
    let mut nibbles: Vec<u8> = Vec::new();
    let mut field_starts = [0usize; 2];
    for (field, start) in field_starts.iter_mut().enumerate() {
        *start = 4 + nibbles.len() / 2;
        for row in rows.iter().skip(field).step_by(2) {
            encode_row(row, &mut nibbles);
        }
    }
    let mut packet = vec![0u8; 4];
    packet.extend(
        nibbles
            .chunks(2)
            .map(|pair| pair[0] << 4 | pair.get(1).copied().unwrap_or(0)),
    );
    let first = packet.len();
    let second = first + 4 + 3 + 3 + 7 + 5 + 1 + 1;
    let pack = |values: [u8; 4]| [values[3] << 4 | values[2], values[1] << 4 | values[0]];
    let (x2, y2) = (x + width.max(1) - 1, y + (rows.len() as u32).max(1) - 1);
    packet.extend(show.to_be_bytes());
    packet.extend((second as u16).to_be_bytes());
    packet.push(command::COLOURS);
    packet.extend(pack(colours));
    packet.push(command::ALPHA);
    packet.extend(pack(alpha));
    packet.push(command::AREA);
    packet.extend([
        (x >> 4) as u8,
        ((x & 0x0f) << 4 | x2 >> 8) as u8,
        x2 as u8,
        (y >> 4) as u8,
        ((y & 0x0f) << 4 | y2 >> 8) as u8,
        y2 as u8,
    ]);
    packet.push(command::FIELDS);
    packet.extend((field_starts[0] as u16).to_be_bytes());
    packet.extend((field_starts[1] as u16).to_be_bytes());
    packet.push(command::SHOW);
    packet.push(command::END);
    packet.extend(hide.to_be_bytes());
    packet.extend((second as u16).to_be_bytes());
    packet.push(command::HIDE);
    packet.push(command::END);
    let size = packet.len() as u16;
    packet[0..2].copy_from_slice(&size.to_be_bytes());
    packet[2..4].copy_from_slice(&(first as u16).to_be_bytes());
    packet
}

/// A row's runs as nibble codes, padded to a whole byte.
fn encode_row(row: &[u8], nibbles: &mut Vec<u8>) {
    let start = nibbles.len();
    let mut x = 0;
    while x < row.len() {
        let value = row[x] & 0x3;
        let run = row[x..].iter().take_while(|&&v| v & 0x3 == value).count();
        let (length, code_nibbles) = if x + run == row.len() && run >= 64 {
            (0, 4)
        } else {
            let length = run.min(255);
            let nibbles = match length {
                1..=3 => 1,
                4..=15 => 2,
                16..=63 => 3,
                _ => 4,
            };
            (length, nibbles)
        };
        let code = (length as u16) << 2 | u16::from(value);
        for shift in (0..code_nibbles).rev() {
            nibbles.push((code >> (4 * shift) & 0x0f) as u8);
        }
        x = if length == 0 { row.len() } else { x + length };
    }
    if (nibbles.len() - start) % 2 == 1 {
        nibbles.push(0);
    }
}
