extension Unicode.Scalar {
    /// 0-9 only: kernel versions, package names and shell variable names are
    /// ASCII, where `Character.isNumber` would also take other scripts' digits.
    package var isASCIIDigit: Bool { ("0"..."9").contains(self) }
    package var isASCIILetter: Bool { ("a"..."z").contains(self) || ("A"..."Z").contains(self) }
    package var isASCIIUppercase: Bool { ("A"..."Z").contains(self) }
}
