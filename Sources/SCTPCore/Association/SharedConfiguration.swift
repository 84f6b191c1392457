/// A configuration that associations share (copy on write): the endpoint makes one for the
/// configuration new associations get, and every association it sets up refers to it, so
/// that an association holds one reference instead of a copy of `SCTPConfiguration` (about
/// 530 bytes) and setting one up copies nothing. An association that changes its own
/// (`SCTPEndpoint.setRTOParameters`, `setPathParameters`, ...) copies it first
/// (`Association.configuration`'s `_modify`), so the others and the endpoint's keep theirs.
final class SharedConfiguration {
    #if DEBUG
    var value: SCTPConfiguration { didSet { storedInitialRTO = nil } }
    #else
    @exclusivity(unchecked) var value: SCTPConfiguration { didSet { storedInitialRTO = nil } }
    #endif

    /// The estimator a new path starts with: the configuration's RTO bounds, in one parameter
    /// box that every path made from this configuration shares (`RTOEstimator`; 40 bytes per
    /// path less). Made on first use, again after a change of `value`.
    var initialRTO: RTOEstimator {
        if let storedInitialRTO { return storedInitialRTO }
        let made = RTOEstimator(initial: value.rtoInitial, minimum: value.rtoMin, maximum: value.rtoMax)
        storedInitialRTO = made
        return made
    }
    private var storedInitialRTO: RTOEstimator?

    /// For an association's own copy made before it had a data transfer state: the
    /// configuration it was set up with, which that state is made with
    /// (`Association.initialDataState`); `nil` once the state exists, and in every other
    /// configuration. Only the association that made the copy refers to it.
    var dataStateBasis: SharedConfiguration?
    /// The AUTH chunk lists the associations share; an association's own copy of the
    /// configuration keeps the endpoint's table.
    let authenticationLists: AuthenticationListTable

    init(_ value: SCTPConfiguration, authenticationLists: AuthenticationListTable = AuthenticationListTable()) {
        self.value = value
        self.authenticationLists = authenticationLists
    }
}

/// A value kept out of line: for an association's parts that are large and rarely used, so
/// that an association without them holds one `nil` reference.
final class ValueBox<Value> {
    var value: Value
    init(_ value: Value) { self.value = value }
}
