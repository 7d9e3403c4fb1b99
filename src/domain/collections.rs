//! The order of a manual collection's products: adding appends, removing closes the gap,
//! moving puts a product at a new index and shifts the others.

/// `current` with `adding` appended in their order, each product once (members already in keep
/// their place).
pub fn with_added<T: Copy + PartialEq>(current: &[T], adding: &[T]) -> Vec<T> {
    let mut members = current.to_vec();
    for product in adding {
        if !members.contains(product) {
            members.push(*product);
        }
    }
    members
}

/// `current` without `removing` (products not in it are ignored).
pub fn without<T: Copy + PartialEq>(current: &[T], removing: &[T]) -> Vec<T> {
    current
        .iter()
        .copied()
        .filter(|product| !removing.contains(product))
        .collect()
}

/// `current` with each move `(product, index)` applied in turn: the product leaves its place
/// and is put at `index` (past the end: last), the others shifting to make room. The index of
/// the first move whose product is not a member, if any.
pub fn with_moves<T: Copy + PartialEq>(
    current: &[T],
    moves: &[(T, usize)],
) -> Result<Vec<T>, usize> {
    let mut members = current.to_vec();
    for (at, (product, index)) in moves.iter().enumerate() {
        let from = members.iter().position(|p| p == product).ok_or(at)?;
        let moved = members.remove(from);
        members.insert((*index).min(members.len()), moved);
    }
    Ok(members)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adding_appends_new_members_once() {
        assert_eq!(with_added(&[1, 2], &[3, 2, 4, 3]), vec![1, 2, 3, 4]);
        assert_eq!(with_added::<i64>(&[], &[]), Vec::<i64>::new());
    }

    #[test]
    fn removing_keeps_the_order_of_the_rest() {
        assert_eq!(without(&[1, 2, 3, 4], &[3, 9, 1]), vec![2, 4]);
    }

    #[test]
    fn moves_shift_the_others() {
        assert_eq!(with_moves(&[1, 2, 3, 4], &[(4, 0)]), Ok(vec![4, 1, 2, 3]));
        assert_eq!(with_moves(&[1, 2, 3, 4], &[(1, 2)]), Ok(vec![2, 3, 1, 4]));
        assert_eq!(with_moves(&[1, 2, 3], &[(1, 99)]), Ok(vec![2, 3, 1]));
        assert_eq!(
            with_moves(&[1, 2, 3], &[(3, 0), (1, 0)]),
            Ok(vec![1, 3, 2]),
            "moves apply in turn"
        );
        assert_eq!(with_moves(&[1, 2, 3], &[(2, 0), (7, 1)]), Err(1));
    }
}
