// AssemblyScript's numeric types, as the pure-TS build of the core sees them.
// The shared core (assembly/) keeps to a subset that means the same in both
// languages: integers stay in i32 range or are wrapped explicitly with `| 0`,
// casts like <i32>x are applied only to values that are already integral.
type i32 = number;
type u32 = number;
type u8 = number;
type f64 = number;
type usize = number;
type bool = boolean;
